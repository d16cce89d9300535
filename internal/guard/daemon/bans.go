package daemon

import (
	"net/netip"
	"time"

	"github.com/rampart-sec/rampart/internal/guard/store"
)

// Memory per ban: a guard with fleet on holds every ban of the fleet
// (100,000 and more), so the loop keeps each one as a value in its map,
// keyed by the prefix, with no allocation or pointer of its own: times as
// Unix seconds and nanoseconds with an interned zone, the jail and origin
// names one pointer to an interned pair, and whether its element is in
// the kernel set. A
// store.Ban is built from it when one is needed (save, list, status).

// banRec is one ban in Daemon.bans.
type banRec struct {
	atSec, untilSec   int64
	atNsec, untilNsec uint32
	atZone, untilZone uint8
	// inKernel: the element is in the kernel set (a ban dropped from the
	// map before its removal was committed is in pendingDel instead).
	inKernel bool
	lbl      *label
	failures int
	count    int
}

// label is a ban's jail and origin node.
type label struct{ jail, origin string }

func (r *banRec) jail() string {
	if r.lbl == nil {
		return ""
	}
	return r.lbl.jail
}

func (r *banRec) origin() string {
	if r.lbl == nil {
		return ""
	}
	return r.lbl.origin
}

// until is the ban's expiry.
func (r *banRec) until() time.Time { return time.Unix(r.untilSec, int64(r.untilNsec)) }

// zoneKey identifies a time's zone by what its text shows.
type zoneKey struct {
	name string
	off  int
}

// packer interns the labels and zones of the bans.
type packer struct {
	labels  map[label]*label
	zones   []*time.Location
	zoneIdx map[zoneKey]uint8
}

// Interning is bounded: labels past maxLabels (a peer making up jail
// names) are one per ban, zones past the 256th are kept as UTC (the same
// instant).
const maxLabels = 4096

func (k *packer) label(jail, origin string) *label {
	l := label{jail, origin}
	if v, ok := k.labels[l]; ok {
		return v
	}
	if k.labels == nil {
		k.labels = map[label]*label{}
	}
	if len(k.labels) < maxLabels {
		k.labels[l] = &l
	}
	return &l
}

// zone returns the index of t's zone: restoring t in that location shows
// the same zone name and offset at t's instant.
func (k *packer) zone(t time.Time) uint8 {
	name, off := t.Zone()
	key := zoneKey{name, off}
	if i, ok := k.zoneIdx[key]; ok {
		return i
	}
	if k.zoneIdx == nil {
		k.zones, k.zoneIdx = []*time.Location{time.UTC}, map[zoneKey]uint8{{"UTC", 0}: 0}
		if i, ok := k.zoneIdx[key]; ok {
			return i
		}
	}
	if len(k.zones) > 255 {
		return 0
	}
	k.zones = append(k.zones, t.Location())
	k.zoneIdx[key] = uint8(len(k.zones) - 1)
	return uint8(len(k.zones) - 1)
}

func (k *packer) time(sec int64, nsec uint32, zone uint8) time.Time {
	t := time.Unix(sec, int64(nsec))
	if int(zone) < len(k.zones) {
		return t.In(k.zones[zone])
	}
	return t.UTC()
}

// pack makes b a record (not in the kernel).
func (k *packer) pack(b *store.Ban) banRec {
	return banRec{
		atSec: b.At.Unix(), atNsec: uint32(b.At.Nanosecond()), atZone: k.zone(b.At),
		untilSec: b.Until.Unix(), untilNsec: uint32(b.Until.Nanosecond()), untilZone: k.zone(b.Until),
		lbl: k.label(b.Jail, b.Origin), failures: b.Failures, count: b.Count,
	}
}

// unpack is the ban of prefix p that r records.
func (k *packer) unpack(p netip.Prefix, r *banRec) store.Ban {
	return store.Ban{Prefix: p, Jail: r.jail(), Origin: r.origin(), Failures: r.failures, Count: r.count,
		At: k.time(r.atSec, r.atNsec, r.atZone), Until: k.time(r.untilSec, r.untilNsec, r.untilZone)}
}
