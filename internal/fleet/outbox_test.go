package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboxReplay: entries survive reopening, done ones do not, a torn
// last line (kill -9 mid-write) is ignored, the bound drops the oldest,
// and compaction keeps the file small.
func TestOutboxReplay(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenOutbox(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		o.Put(Entry{ID: fmt.Sprint("id", i), Subject: "rampart.ban.a.sshd", Data: []byte(`{}`)})
	}
	o.Done(3)
	o.Sync()
	f, _ := os.OpenFile(filepath.Join(dir, OutboxFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`P {"id":"torn","subj`)
	f.Close()
	o.f.Close()

	o, err = OpenOutbox(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() != 5 || o.Pending(1)[0].ID != "id5" || o.Dropped != 2 {
		t.Fatalf("reopened: %d entries, first %v, dropped %d", o.Len(), o.Pending(1), o.Dropped)
	}
	// Full: each Put drops the oldest, each Done takes one more.
	for i := range 5000 {
		o.Put(Entry{ID: fmt.Sprint("n", i), Subject: "rampart.ban.a.sshd", Data: []byte(`{}`)})
		o.Done(1)
	}
	o.Close()
	b, _ := os.ReadFile(filepath.Join(dir, OutboxFile))
	if n := strings.Count(string(b), "\n"); n > 4*5+1024+10 {
		t.Errorf("outbox file has %d lines after compaction", n)
	}
	o, err = OpenOutbox(dir, 5)
	if err != nil || o.Len() != 4 || o.Pending(1)[0].ID != "n4996" {
		t.Fatalf("after churn: %v %d %v", err, o.Len(), o.Pending(1))
	}
	o.Close()

	os.WriteFile(filepath.Join(dir, OutboxFile), []byte("garbage\nP {}\n"), 0o600)
	if _, err := OpenOutbox(dir, 5); err == nil || !strings.Contains(err.Error(), ":1: damaged line") {
		t.Errorf("damaged outbox: %v", err)
	}
}
