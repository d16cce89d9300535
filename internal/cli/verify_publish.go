package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-sec/rampart/internal/fleet"
	"github.com/rampart-sec/rampart/internal/fleetverify"
	"github.com/rampart-sec/rampart/internal/policy"
)

// ExitPublish is verify's status when the report was written but
// publishing it (--publish) failed: the report itself is complete.
const ExitPublish = 3

// publishFlags are verify's flags for pushing the report to the fleet.
type publishFlags struct {
	publish bool
	node    string
}

func addPublishFlags(fs *flag.FlagSet) *publishFlags {
	pf := &publishFlags{}
	fs.BoolVar(&pf.publish, "publish", false, "also put the report into the fleet's JetStream key-value bucket "+fleetverify.Bucket+" (the policy's [fleet] servers and credentials; key = the node name) for rampart fleet status")
	fs.StringVar(&pf.node, "node", "", "with --publish: the key to publish under, `NAME` (default: the policy's fleet.node, else the verified host's name)")
	return pf
}

// ready checks before the run that the report can be published: servers,
// readable credential files, a valid --node. It returns a message, ""
// when ready.
func (pf *publishFlags) ready(p *policy.Policy) string {
	if !pf.publish {
		if pf.node != "" {
			return "--node is only used with --publish"
		}
		return ""
	}
	if len(p.Fleet.Servers) == 0 {
		return "--publish: the policy has no fleet.servers (see the README's Fleet section)"
	}
	if _, err := fleet.Options(p.Fleet, ""); err != nil {
		return "--publish: " + err.Error()
	}
	if pf.node != "" {
		if err := policy.ValidNode(pf.node); err != nil {
			return "--node: " + err.Error()
		}
	}
	return ""
}

// nodeFor is the key hr's report is published under.
func (pf *publishFlags) nodeFor(p *policy.Policy, hr *fleetverify.HostRun) (string, error) {
	switch {
	case pf.node != "":
		return pf.node, nil
	case p.Fleet.Node != "":
		return p.Fleet.Node, nil
	case hr.Reported != "":
		return fleet.NodeFromHostname(hr.Reported)
	}
	return fleet.NodeName(p.Fleet)
}

// publishReport puts hr's report (a rampart.fleet/v1 document holding
// this one host, named after the node) into the bucket. It returns
// ExitOK or, having said why on stderr, ExitPublish.
func publishReport(env *Env, p *policy.Policy, pf *publishFlags, f *fleetverify.Fleet) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "rampart verify: --publish failed (the report above is complete; exit status %d): "+format+"\n",
			append([]any{ExitPublish}, a...)...)
		return ExitPublish
	}
	hr := f.Hosts[0]
	node, err := pf.nodeFor(p, hr)
	if err != nil {
		return fail("%v; set fleet.node or --node", err)
	}
	name := hr.Target.Name
	hr.Target.Name = node
	var doc bytes.Buffer
	err = f.JSON(&doc)
	hr.Target.Name = name
	if err != nil {
		return fail("%v", err)
	}
	// A publish the servers refuse is dropped and only reported
	// asynchronously: end the wait for its acknowledgement then.
	ctx, cancel := context.WithCancelCause(env.Ctx)
	defer cancel(nil)
	nc, err := fleet.Connect(p.Fleet, "rampart verify --publish", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			cancel(err)
		}
	}))
	if err != nil {
		return fail("%v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail("%v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	defer tcancel()
	rev, err := fleetverify.Publish(tctx, js, len(p.Fleet.Servers), node, doc.Bytes())
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		return fail("%v (the credential needs to publish $KV.%s.%s, see the README's Fleet section)", err, fleetverify.Bucket, node)
	}
	if err := nc.Flush(); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(env.Stderr, "rampart verify: published the report as %s in bucket %s (revision %d)\n", node, fleetverify.Bucket, rev)
	return ExitOK
}
