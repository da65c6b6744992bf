// Benchmarks of the work a client does besides the exchange: go test -bench .
package vmnetbroker

import (
	"encoding/json"
	"os"
	"testing"
)

var benchReply = []byte(`{"network": {"name": "shared", "mode": "shared", "bridge": "vmbr1", "subnet": "192.168.64.1", "mask": "255.255.255.0", "ipv6_prefix": "fda9:c45f:2a52::", "prefix_len": 64, "mtu": 1500, "port": {"kind": "tap", "ifname": "vmtap4", "mac": "02:e6:a7:db:e1:98", "address": "192.168.64.3"}}}`)

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := newPort(&Message{Data: benchReply, Files: make([]*os.File, 1)}, PortTAP, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	for i := 0; i < b.N; i++ {
		checkReplyJSON(benchReply)
	}
}

func BenchmarkRequest(b *testing.B) {
	o := &AcquireOptions{Port: PortTAP, VnetHdr: true, Label: "x"}
	for i := 0; i < b.N; i++ {
		req, _, _ := acquireRequest("shared", o, false)
		json.Marshal(req)
	}
}
