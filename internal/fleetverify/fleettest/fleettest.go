// Package fleettest gives tests outside fleetverify the captured
// published reports of ../testdata/bucket.txtar (one file per key: real
// `verify --publish` values and hostile ones) as bucket entries, and the
// captured report of web1 renamed per key for fleets of any size. (The
// package's own tests read the file themselves: they cannot import a
// package that imports theirs.)
package fleettest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/rampart-sec/rampart/internal/fleetverify"
)

func files(tb testing.TB) []txtar.File {
	tb.Helper()
	_, self, _, _ := runtime.Caller(0)
	ar, err := txtar.ParseFile(filepath.Join(filepath.Dir(self), "..", "testdata", "bucket.txtar"))
	if err != nil {
		tb.Fatal(err)
	}
	return ar.Files
}

// Entries returns every value of bucket.txtar as a bucket entry stored at
// now minus ages[key] (one hour when not listed).
func Entries(tb testing.TB, now time.Time, ages map[string]time.Duration) []fleetverify.Entry {
	tb.Helper()
	var out []fleetverify.Entry
	for i, f := range files(tb) {
		age, ok := ages[f.Name]
		if !ok {
			age = time.Hour
		}
		out = append(out, fleetverify.Entry{Key: f.Name, Value: f.Data, Created: now.Add(-age), Revision: uint64(i + 1)})
	}
	return out
}

// Renamed returns n copies of web1's published report, the i-th named
// host%04d (its key) as a node publishing it would name it.
func Renamed(tb testing.TB, n int) (keys []string, values [][]byte) {
	tb.Helper()
	var web1 []byte
	for _, f := range files(tb) {
		if f.Name == "web1" {
			web1 = f.Data
		}
	}
	if !bytes.Contains(web1, []byte(`"name": "web1"`)) {
		tb.Fatal("bucket.txtar: no web1 report")
	}
	for i := range n {
		key := fmt.Sprintf("host%04d", i)
		keys = append(keys, key)
		values = append(values, bytes.Replace(web1, []byte(`"name": "web1"`), []byte(`"name": "`+key+`"`), 1))
	}
	return keys, values
}
