package results

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/chatbench/chatbench/internal/buildinfo"
)

// NewMeta describes a run about to start on this machine: the build (its
// git revision from the binary's stamp, else from git in the working
// directory: buildinfo.Read), the machine, and the trace (its bytes are hashed so runs of the same trace can
// be recognised). sharedClock says the driver and the servers run on one
// machine.
func NewMeta(traceName string, traceBytes []byte, traceMsgs int, speed float64, sharedClock bool, config map[string]string) Meta {
	bi := buildinfo.Read()
	sum := sha256.Sum256(traceBytes)
	host, _ := os.Hostname()
	clock := "separate: driver and servers on different machines; cross-machine hop durations include clock offset"
	if sharedClock {
		clock = "shared: driver and servers on one machine"
	}
	return Meta{
		Version: bi.Version, Revision: bi.Revision, Modified: bi.Modified, RevisionSource: bi.RevisionSource,
		GoVersion: bi.GoVersion, OS: bi.OS, Arch: bi.Arch,
		CPUModel: cpuModel(), Cores: runtime.NumCPU(), Hostname: host, Started: time.Now().UTC(),
		TraceName: traceName, TraceDigest: hex.EncodeToString(sum[:]), TraceMsgs: traceMsgs,
		Speed: speed, Clock: clock, ClockID: clockID(host), Config: config, Shards: 1,
	}
}

// Shard is the slice of a trace one run replayed: shard Index of Count,
// counted from 0 (bench --shard i/n, trace.Shard).
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// String formats s as the flag takes it: "1/4".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Source is one run merged into another (Meta.Sources): which shard it
// replayed (nil: the whole trace), and the machine and clock it ran on.
type Source struct {
	Shard    *Shard    `json:"shard,omitempty"`
	Hostname string    `json:"hostname"`
	ClockID  string    `json:"clock_id,omitempty"`
	Started  time.Time `json:"started"`
}

// clockID names the clock this process reads: on Linux the kernel's boot
// id, which every process and container of one boot of one machine shares
// (a Kubernetes pod's hostname is its own, but pods on one node read one
// clock); elsewhere the hostname.
func clockID(host string) string {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return "boot:" + id
		}
	}
	return "host:" + host
}

// clock returns the clock a source ran on, for files written before
// clock ids were recorded: their hostname.
func (s Source) clock() string {
	if s.ClockID != "" {
		return s.ClockID
	}
	return "host:" + s.Hostname
}

// cpuModel reads the CPU model name from /proc/cpuinfo ("unknown"
// elsewhere).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
