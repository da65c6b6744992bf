// Command benchworker times the Go package's Acquire for bench/vmnet-bench.c
// (make bench, the port latency's "go" method):
//
//	vmnet-broker-bench-go --socket PATH --network NAME
//
// For each byte read on fd 3 (a SOCK_SEQPACKET socket) it acquires a TAP as
// the C library's run does (tap, vnet_hdr, label "vmnet-bench"), with a
// 30 s deadline as a VM tool would set one, and sends back the time that
// took, in microseconds as text, with the TAP's fd; then it closes its copy.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"vmnet-broker.invalid/vmnetbroker"
)

func main() {
	socket := flag.String("socket", "", "the daemon's socket")
	network := flag.String("network", "shared", "the network")
	flag.Parse()
	conn, err := net.FileConn(os.NewFile(3, "vmnet-bench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchworker:", err)
		os.Exit(1)
	}
	peer := conn.(*net.UnixConn)
	c := &vmnetbroker.Client{Socket: *socket}
	opts := &vmnetbroker.AcquireOptions{Port: vmnetbroker.PortTAP, VnetHdr: true, Label: "vmnet-bench"}
	buf := make([]byte, 16)
	for {
		if n, err := peer.Read(buf); err != nil || n == 0 {
			return // vmnet-bench is done
		}
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		port, err := c.Acquire(ctx, *network, opts)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchworker:", err)
			os.Exit(1)
		}
		files := port.TakeFiles()
		port.Close()
		us := float64(time.Since(t0).Nanoseconds()) / 1e3
		_, _, err = peer.WriteMsgUnix([]byte(fmt.Sprintf("%.1f", us)), syscall.UnixRights(int(files[0].Fd())), nil)
		for _, f := range files {
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchworker:", err)
			os.Exit(1)
		}
	}
}
