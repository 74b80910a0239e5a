package results

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
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
		Speed: speed, Clock: clock, Config: config, Shards: 1,
	}
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
