package policy

import (
	"bytes"
	"fmt"
	"os"
	"sort"

	"github.com/BurntSushi/toml"
)

// Load reads the policy file at path, or returns Default("") when path is
// empty. Errors are reported as FILE:LINE:COL: message.
func Load(path string) (*Policy, error) {
	if path == "" {
		return Default("")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a policy from data; name is used in error messages.
func Parse(name string, data []byte) (*Policy, error) {
	var head struct {
		Profile string `toml:"profile"`
	}
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&head); err != nil {
		return nil, tomlError(name, err)
	}
	p, err := Default(head.Profile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var raw struct {
		Sysctl map[string]int64 `toml:"sysctl"`
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(p)
	if err != nil {
		return nil, tomlError(name, err)
	}
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err == nil && raw.Sysctl != nil {
		keys := make([]string, 0, len(raw.Sysctl))
		for k := range raw.Sysctl {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p.Sysctl = nil
		for _, k := range keys {
			p.Sysctl = append(p.Sysctl, Sysctl{Name: k, Value: raw.Sysctl[k]})
		}
	}
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "sysctl" {
			continue
		}
		return nil, fmt.Errorf("%s: unknown key %q", name, k.String())
	}
	p.Source = name
	return p, nil
}

func tomlError(name string, err error) error {
	if pe, ok := err.(toml.ParseError); ok {
		return fmt.Errorf("%s:%d:%d: %s", name, pe.Position.Line, pe.Position.Col, pe.Message)
	}
	return fmt.Errorf("%s: %w", name, err)
}
