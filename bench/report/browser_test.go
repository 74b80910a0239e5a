package report_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
	"github.com/chatbench/chatbench/chat/jobs"
)

// chromiumPath is Debian's chromium (apt-get install chromium), which .ci/run
// installs.
const chromiumPath = "/usr/bin/chromium"

// requireEnv set to 1 makes a missing chromium a failure instead of a skip
// (.ci/run sets it, since it installs chromium).
const requireEnv = "CHATBENCH_REQUIRE_CHROMIUM"

// needChromium skips t, or fails it under requireEnv, when chromium is not
// installed.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s=1 but %s is missing: apt-get install -y chromium", requireEnv, chromiumPath)
		}
		t.Skipf("headless browser check skipped: %s not found (apt-get install -y chromium)", chromiumPath)
	}
}

// screenshotEnv names the folder the browser test saves its screenshots in
// (CI keeps it as an artifact); unset, no screenshots are taken.
const screenshotEnv = "CHATBENCH_SCREENSHOT_DIR"

// resultsEnv adds results documents (comma-separated paths) to the
// fixtures, to check the report of a real run:
// CHATBENCH_REPORT_RESULTS=out/compare-…/results.json go test -run InBrowser ./bench/report
const resultsEnv = "CHATBENCH_REPORT_RESULTS"

// widths are the viewport widths a report is read at: a laptop and a phone
// (the 390 CSS px of a current iPhone).
var widths = []int64{1280, 390}

// domProblem is one layout fault the measuring script found.
type domProblem struct {
	Kind, Where, Text, Detail string
}

// domResult is what testdata/domcheck.js returns.
type domResult struct {
	Width, Height int64
	Problems      []domProblem
}

// TestReportInBrowser renders reports of the fixtures, opens each in headless
// Chromium at a laptop's and a phone's width, and measures in the DOM that
// no text runs off the screen, out of its box or out of its SVG, that no
// text is too small to read, that tick labels do not collide and that
// tables scroll sideways inside a box of their own. With
// CHATBENCH_SCREENSHOT_DIR set it saves a full-page PNG of each.
func TestReportInBrowser(t *testing.T) {
	needChromium(t)
	script, err := os.ReadFile(filepath.Join("testdata", "domcheck.js"))
	if err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv(screenshotEnv)
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatalf("%s=%s: %v", screenshotEnv, shots, err)
		}
	}
	fixtures := browserFixtures()
	if extra := os.Getenv(resultsEnv); extra != "" {
		for _, path := range strings.Split(extra, ",") {
			fixtures = append(fixtures, fixture{filepath.Base(filepath.Dir(path)), readRun(t, path)})
		}
	}
	browser := newBrowser(t)
	dir := t.TempDir()
	for _, fx := range fixtures {
		page := filepath.Join(dir, fx.name+".html")
		var buf bytes.Buffer
		if err := report.HTML(&buf, fx.run); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, w := range widths {
			t.Run(fmt.Sprintf("%s/%dpx", fx.name, w), func(t *testing.T) {
				res, png := measure(t, browser, page, w, string(script), shots != "")
				if res.Width != w {
					t.Fatalf("viewport is %d px wide, want %d: the emulation did not apply", res.Width, w)
				}
				if png != nil {
					out := filepath.Join(shots, fmt.Sprintf("report-%s-%dpx.png", fx.name, w))
					if err := os.WriteFile(out, png, 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("screenshot: %s", out)
				}
				for _, p := range res.Problems {
					t.Errorf("%s: %s %q: %s", p.Kind, p.Where, p.Text, p.Detail)
				}
			})
		}
	}
}

// TestDOMCheckFindsFaults runs the measuring script on a page with one of
// each fault it looks for, so a script that silently passes everything
// cannot pass TestReportInBrowser.
func TestDOMCheckFindsFaults(t *testing.T) {
	needChromium(t)
	script, err := os.ReadFile(filepath.Join("testdata", "domcheck.js"))
	if err != nil {
		t.Fatal(err)
	}
	faults := map[string]string{
		"text-overlaps":            `<div style="position:relative;height:3em"><span style="position:absolute;top:0">first label</span><span style="position:absolute;top:2px;left:1em">second</span></div>`,
		"ticks-overlap":            `<div style="position:relative;height:2em"><span class="tick" style="position:absolute">100</span><span class="tick" style="position:absolute;left:4px">1k</span></div>`,
		"text-clipped":             `<div style="width:60px;overflow:hidden"><span style="white-space:nowrap">attachment_classify · queue</span></div>`,
		"text-overflows-box":       `<div style="width:60px;white-space:nowrap">attachment_classify · queue</div>`,
		"text-off-screen":          `<div style="position:absolute;left:350px;top:30em;white-space:nowrap">egress and beyond</div>`,
		"page-scrolls-sideways":    ``, // the line above
		"svg-text-outside-viewbox": `<svg viewBox="0 0 100 20" width="100" height="20"><text x="-30" y="15" font-size="12">ttachment</text></svg>`,
		"text-too-small":           `<svg viewBox="0 0 640 40" style="width:200px"><text x="10" y="20" font-size="11">0.1</text></svg>`,
		"table-not-in-scroller":    `<table><tr><td>cell</td></tr></table>`,
	}
	var body strings.Builder
	for _, html := range faults {
		body.WriteString(html)
	}
	page := filepath.Join(t.TempDir(), "faults.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"></head><body style="font-size:12px">`+body.String()+`</body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, _ := measure(t, newBrowser(t), page, 390, string(script), false)
	found := map[string]bool{}
	for _, p := range res.Problems {
		found[p.Kind] = true
	}
	for kind := range faults {
		if !found[kind] {
			t.Errorf("the script did not find %s (found %v)", kind, res.Problems)
		}
	}
}

// newBrowser starts headless Chromium for the test, closed at its end. The
// flags keep it off the network (which is closed anyway) and out of the
// user's profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	// Chromium's own log (D-Bus, crashpad noise), shown if the test fails;
	// a file, since chromedp writes it from its own goroutine.
	logs, err := os.Create(filepath.Join(t.TempDir(), "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(logs),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if b, err := os.ReadFile(logs.Name()); err == nil && t.Failed() {
			t.Logf("chromium's output:\n%s", b)
		}
		logs.Close()
	})
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// measure opens page in a new tab of browser at width CSS px, waits until it
// has loaded and laid out its fonts, runs the measuring script and, if shot,
// takes a full-page screenshot.
func measure(t *testing.T, browser context.Context, page string, width int64, script string, shot bool) (domResult, []byte) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browser)
	defer closeTab()
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, 900),
		chromedp.Navigate("file://"+page),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete" && document.fonts.status === "loaded"`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		t.Fatalf("open %s at %d px: %v", page, width, err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[domResult](script))
	if err != nil {
		t.Fatalf("measure %s at %d px: %v", page, width, err)
	}
	if !shot {
		return res, nil
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s at %d px: %v", page, width, err)
	}
	return res, png
}

// fixture is one results document the browser test renders.
type fixture struct {
	name string
	run  *results.Run
}

// browserFixtures are the reports the browser test reads: the reference
// fixture; the same with the real catalog's jobs (its label lengths and its
// number of jobs) and a --limit subset; and a chaos run's fault matrix.
func browserFixtures() []fixture {
	return []fixture{
		{"reference", resultstest.Run(1)},
		{"catalog", catalogRun()},
		{"chaos", chaosRun()},
	}
}

// catalogRun is the reference fixture with its jobs replaced by the
// catalog's: each catalog job gets the figures of a fixture job of its class,
// so the report shows every real job name.
func catalogRun() *results.Run {
	run := resultstest.Run(1)
	run.Meta.Config["limit"] = "1500"
	run.Meta.Config["duration"] = "0s"
	byClass := map[string]string{}
	for _, j := range resultstest.Jobs {
		if _, ok := byClass[j.Class]; !ok {
			byClass[j.Class] = "job:" + j.Name
		}
	}
	for _, p := range run.Paths {
		p.Messages.Scheduled = 1500
		from := map[string]*results.Histogram{}
		sent := map[string]*results.Histogram{}
		led := map[string]*results.Counts{}
		for g, h := range p.FromScheduled {
			if !strings.HasPrefix(g, "job:") {
				from[g], sent[g], led[g] = h, p.FromSent[g], p.Ledger[g]
			}
		}
		for _, j := range jobs.Catalog().Jobs() {
			src := byClass[string(j.Class)]
			if h := p.FromScheduled[src]; h != nil {
				g := "job:" + j.Name
				from[g], sent[g], led[g] = h, p.FromSent[src], p.Ledger[src]
			}
		}
		if p.Name != "echo" {
			g := "job:relay"
			from[g], sent[g], led[g] = p.FromScheduled["class:relay"], p.FromSent["class:relay"], p.Ledger["class:relay"]
		} else {
			from["job:echo"], sent["job:echo"], led["job:echo"] = p.FromScheduled["job:echo"], p.FromSent["job:echo"], p.Ledger["job:echo"]
		}
		p.FromScheduled, p.FromSent, p.Ledger = from, sent, led
	}
	return run
}

// chaosRun is a `chatbench chaos` document: both paths under two faults.
func chaosRun() *results.Run {
	base := resultstest.Run(1)
	run := &results.Run{Schema: base.Schema, Meta: base.Meta}
	for i, fault := range []string{"kill-worker", "ml-slow-5s"} {
		for _, p := range base.Paths[:2] {
			c := *p
			c.Fault = fault
			c.FaultWindow = &results.FaultWindow{Start: p.Start.Add(20 * time.Second), End: p.Start.Add(30 * time.Second)}
			c.RecoverySeconds = float64(3 + 4*i)
			c.FaultLatency = &results.FaultLatency{DuringP50: 40_000, DuringP99: 2_500_000, AfterP50: 2_000, AfterP99: 90_000}
			run.Paths = append(run.Paths, &c)
		}
	}
	return run
}

// readRun reads a results document named by resultsEnv.
func readRun(t *testing.T, path string) *results.Run {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", resultsEnv, err)
	}
	defer f.Close()
	run, err := results.Read(f)
	if err != nil {
		t.Fatalf("%s=%s: %v", resultsEnv, path, err)
	}
	return run
}
