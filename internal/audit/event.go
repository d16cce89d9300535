package audit

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Event is the records that share one msg=audit(TIME:SERIAL) stamp,
// summarised: who did what to which path, and under which rule keys.
type Event struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Serial uint64    `json:"serial"`
	Node   string    `json:"node,omitempty"`
	// Keys are the rule keys that matched (a rule may carry several).
	Keys []string `json:"keys"`
	// Kind is "config" for rule and audit configuration changes
	// (CONFIG_CHANGE), "syscall" for system call events, otherwise the
	// lower-cased type of the first record ("user_cmd", "daemon_start").
	Kind string `json:"kind"`
	// Types are the record types in arrival order (at most 32).
	Types []string `json:"types"`
	// Syscall is the system call name for Arch (or its number when the
	// table does not know it).
	Syscall string `json:"syscall,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// Success is "yes" or "no" for system call events.
	Success string `json:"success,omitempty"`
	Exit    string `json:"exit,omitempty"`
	// AUID is the login uid as logged; AUIDName is "unset" for an unset
	// one (4294967295), else the resolved user name or the number.
	AUID     string `json:"auid,omitempty"`
	AUIDName string `json:"auid_name,omitempty"`
	UID      string `json:"uid,omitempty"`
	UIDName  string `json:"uid_name,omitempty"`
	PID      string `json:"pid,omitempty"`
	PPID     string `json:"ppid,omitempty"`
	Comm     string `json:"comm,omitempty"`
	Exe      string `json:"exe,omitempty"`
	Cwd      string `json:"cwd,omitempty"`
	// Proctitle is the command line, arguments separated by spaces.
	Proctitle string     `json:"proctitle,omitempty"`
	Paths     []PathItem `json:"paths,omitempty"`
	// Op and Res come from CONFIG_CHANGE records (op=add_rule res=1).
	Op  string `json:"op,omitempty"`
	Res string `json:"res,omitempty"`
	// Source is FILE:LINE of the event's first record.
	Source string `json:"source"`

	// enriched names from auditd's ENRICHED format, preferred over the
	// host's /etc/passwd because they were resolved when it happened.
	eAUID, eUID string
}

// PathItem is one PATH record.
type PathItem struct {
	Name string `json:"name"`
	// NameType is NORMAL, PARENT, CREATE, DELETE or UNKNOWN.
	NameType string `json:"nametype,omitempty"`
	Mode     string `json:"mode,omitempty"`
}

// Bounds per event, so that one hostile event cannot grow without limit.
const (
	maxTypes = 32
	maxPaths = 64
)

// unsetID is the kernel's "no login uid" ((uid_t)-1).
const unsetID = "4294967295"

func (e *Event) add(r *Record, file string, line int) {
	if e.ID == "" {
		e.ID, e.Time, e.Serial, e.Node = r.ID, r.Time, r.Serial, r.Node
		e.Source = file + ":" + strconv.Itoa(line)
	}
	if len(e.Types) < maxTypes {
		e.Types = append(e.Types, r.Type)
	}
	get := func(n string) string { v, _ := r.Get(n); return v }
	switch {
	case r.Type == "CONFIG_CHANGE":
		e.Kind = "config"
	case r.Type == "SYSCALL" && e.Kind != "config":
		e.Kind = "syscall"
	case e.Kind == "":
		e.Kind = strings.ToLower(r.Type)
	}
	switch r.Type {
	case "SYSCALL":
		e.Arch = archName(get("arch"))
		e.Syscall = r.Resolved("SYSCALL")
		if e.Syscall == "" {
			e.Syscall = syscallName(e.Arch, get("syscall"))
		}
		e.Success, e.Exit = get("success"), get("exit")
		e.AUID, e.UID, e.PID, e.PPID = get("auid"), get("uid"), get("pid"), get("ppid")
		e.Comm, e.Exe = get("comm"), get("exe")
		e.eAUID, e.eUID = r.Resolved("AUID"), r.Resolved("UID")
		e.addKeys(r)
	case "CONFIG_CHANGE":
		e.Op, e.Res = get("op"), get("res")
		if e.AUID == "" {
			e.AUID, e.eAUID = get("auid"), r.Resolved("AUID")
		}
		e.addKeys(r)
	case "CWD":
		e.Cwd = get("cwd")
	case "PATH":
		if len(e.Paths) < maxPaths {
			e.Paths = append(e.Paths, PathItem{Name: get("name"), NameType: get("nametype"), Mode: get("mode")})
		}
	case "PROCTITLE":
		e.Proctitle = strings.TrimRight(strings.ReplaceAll(get("proctitle"), "\x00", " "), " ")
	default:
		// User-space records (USER_CMD, USER_AUTH …) carry their own
		// auid/uid/exe and are events of one record.
		if e.AUID == "" {
			e.AUID, e.eAUID = get("auid"), r.Resolved("AUID")
		}
		if e.UID == "" {
			e.UID, e.eUID = get("uid"), r.Resolved("UID")
		}
		if e.Exe == "" {
			e.Exe = get("exe")
		}
		if e.Op == "" {
			e.Op, e.Res = get("op"), get("res")
		}
	}
}

func (e *Event) addKeys(r *Record) {
	k, ok := r.Get("key")
	if !ok || k == "" {
		return
	}
	// Several keys on one rule are joined with \x01 (and the field is
	// then hex-encoded).
	for _, part := range strings.Split(k, "\x01") {
		if part != "" && !contains(e.Keys, part) && len(e.Keys) < 16 {
			e.Keys = append(e.Keys, part)
		}
	}
	sort.Strings(e.Keys)
}

// archName turns the hex AUDIT_ARCH value into "x86_64", "aarch64" ….
func archName(hexArch string) string {
	if hexArch == "" {
		return ""
	}
	n, err := strconv.ParseUint(hexArch, 16, 32)
	if err != nil {
		return hexArch
	}
	if name, ok := auparse.AuditArchNames[auparse.AuditArch(n)]; ok {
		return name
	}
	return hexArch
}

// syscallName resolves a system call number for an architecture; the
// same number means different calls on x86_64 and aarch64.
func syscallName(arch, num string) string {
	n, err := strconv.Atoi(num)
	if err != nil {
		return num
	}
	if name, ok := auparse.AuditSyscalls[arch][n]; ok {
		return name
	}
	return num
}

// assembler groups records into events. Records of one event are
// written together, so an event is complete when its EOE arrives or,
// failing that, once window newer events have started.
type assembler struct {
	open   map[string]*Event
	order  []string
	window int
	emit   func(*Event)
}

func newAssembler(window int, emit func(*Event)) *assembler {
	return &assembler{open: map[string]*Event{}, window: window, emit: emit}
}

func (a *assembler) add(r *Record, file string, line int) {
	id := r.ID
	if r.Node != "" {
		id = r.Node + "\x00" + r.ID
	}
	e := a.open[id]
	if e == nil {
		e = &Event{}
		a.open[id] = e
		a.order = append(a.order, id)
		for len(a.order) > a.window {
			a.finish(a.order[0])
		}
	}
	if r.Type == "EOE" {
		a.finish(id)
		return
	}
	e.add(r, file, line)
}

func (a *assembler) finish(id string) {
	e := a.open[id]
	if e == nil {
		return
	}
	delete(a.open, id)
	for i, x := range a.order {
		if x == id {
			a.order = append(a.order[:i], a.order[i+1:]...)
			break
		}
	}
	if e.ID != "" {
		a.emit(e)
	}
}

func (a *assembler) flush() {
	for len(a.order) > 0 {
		a.finish(a.order[0])
	}
}
