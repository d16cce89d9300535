package nixfacts

import (
	"fmt"
	"math"
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/rampart-sec/rampart/internal/nixgen/nixexpr"
	"github.com/rampart-sec/rampart/internal/policy"
)

// RampartModule reports whether p bans with rampart guard (ban.engine =
// "rampart"): the module then defines services.rampart, which only
// rampart's flake (nixosModules.default) declares.
func RampartModule(p *policy.Policy) bool { return p.Ban.Engine == policy.EngineRampart }

// FlakeURL is the flake reference of rampart's own flake.
const FlakeURL = "github:rampart-sec/rampart"

var rampartOpt = []string{"services", "rampart"}

// rampartSettings renders services.rampart for ban.engine = "rampart":
// rampart installed with the whole policy (every [ban] key included, the
// guard-only ones too: the guard reads them from /etc/rampart/policy.toml)
// and the guard running when the policy bans.
func rampartSettings(p *policy.Policy) []Setting {
	pol, err := PolicyAttrs(p)
	if err != nil {
		// The policy's own TOML always decodes; a failure is a bug.
		panic(err)
	}
	guard := "rampart-guard.service bans brute-force sources in rampart's nftables table"
	if !p.Ban.Enabled {
		guard = "the policy does not ban: no guard"
	}
	return []Setting{
		set("", nixexpr.Bool(true), at(rampartOpt, "enable")...),
		set(guard, nixexpr.Bool(p.Ban.Enabled), at(rampartOpt, "guard", "enable")...),
		set("the policy this module was rendered from (written to /etc/rampart/policy.toml, checked\n"+
			"when the system is built)", pol, at(rampartOpt, "policy")...),
	}
}

// PolicyAttrs is p as the Nix attribute set services.rampart.policy takes
// (pkgs.formats.toml renders it back to an equivalent policy file): the
// complete policy, defaults included, keys sorted as Nix sorts them.
func PolicyAttrs(p *policy.Policy) (*nixexpr.Attrs, error) {
	var m map[string]any
	if _, err := toml.Decode(string(policy.MarshalTOML(p)), &m); err != nil {
		return nil, fmt.Errorf("policy as Nix: %w", err)
	}
	v, err := tomlValue(m)
	if err != nil {
		return nil, fmt.Errorf("policy as Nix: %w", err)
	}
	return v.(*nixexpr.Attrs), nil
}

func tomlValue(v any) (nixexpr.Value, error) {
	switch x := v.(type) {
	case string:
		return nixexpr.Str(x), nil
	case bool:
		return nixexpr.Bool(x), nil
	case int64:
		return nixexpr.Int(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("float %v has no Nix literal", x)
		}
		return nixexpr.Float(x), nil
	case map[string]any:
		a := &nixexpr.Attrs{}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e, err := tomlValue(x[k])
			if err != nil {
				return nil, err
			}
			a.Add("", e, k)
		}
		return a, nil
	case []map[string]any:
		l := nixexpr.List{}
		for _, e := range x {
			ev, err := tomlValue(e)
			if err != nil {
				return nil, err
			}
			l = append(l, ev)
		}
		return l, nil
	case []any:
		l := nixexpr.List{}
		for _, e := range x {
			ev, err := tomlValue(e)
			if err != nil {
				return nil, err
			}
			l = append(l, ev)
		}
		return l, nil
	}
	return nil, fmt.Errorf("TOML value %T has no Nix form here", v)
}
