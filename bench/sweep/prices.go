package sweep

import (
	"cmp"

	"github.com/chatbench/chatbench/bench/results"
)

// DefaultPrices are the cost assumptions of a sweep without price flags
// (docs/methodology.md, "Cost"). The SQS figures are the list prices of
// Amazon SQS in US East (N. Virginia) for the first 100 billion requests
// a month, as published on https://aws.amazon.com/sqs/pricing/ and quoted
// by the cost guides of 2026 (the page itself could not be read from
// where this was written: check it for your region and date). The core
// hour is an assumption of ours: about the on-demand price of one vCPU of
// a general-purpose cloud instance. Every one is a flag.
var DefaultPrices = results.Prices{
	FIFOPerMillion:     0.50,
	StandardPerMillion: 0.40,
	FreeRequests:       1_000_000,
	CoreHour:           0.05,
	Source: "SQS: AWS list prices, US East (N. Virginia), first 100 billion requests a month " +
		"(https://aws.amazon.com/sqs/pricing/): FIFO $0.50 and standard $0.40 per million requests, " +
		"each started 64 KiB of payload billed as one, the first million requests a month free; " +
		"CPU: $0.05 per core-hour, an assumption (about one on-demand vCPU)",
}

// withPriceDefaults returns DefaultPrices for the zero Prices, and p as
// given otherwise (a zero price or free tier is then meant), its source
// saying so when it names none.
func withPriceDefaults(p results.Prices) results.Prices {
	if p == (results.Prices{}) {
		return DefaultPrices
	}
	p.Source = cmp.Or(p.Source, "as given (--price-fifo, --price-standard, --free-requests, --price-core-hour)")
	return p
}
