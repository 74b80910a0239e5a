// Package trace reads, writes, validates, summarises and generates chatbench
// traces: recorded or synthetic inbound chat traffic that the benchmark
// driver replays at its recorded timing.
//
// A trace is JSON Lines, optionally gzip-compressed (detected by its magic
// bytes). The first line is a Header; every other line is one inbound
// message (a Record), sorted by its time offset. docs/trace.md describes the
// format.
package trace
