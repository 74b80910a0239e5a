package buildinfo

// The version and revision a build stamps in at link time, for binaries
// built where the Go toolchain cannot read version control: the container
// image's build context leaves .git out, so the VCS settings Read looks for
// are absent there. The Dockerfile passes them from its VERSION and
// REVISION build arguments:
//
//	go build -ldflags "-X github.com/chatbench/chatbench/internal/buildinfo.stampedVersion=v0.2.0 \
//	  -X github.com/chatbench/chatbench/internal/buildinfo.stampedRevision=$(git rev-parse HEAD)"
//
// They are package variables only because -X can set nothing else; nothing
// writes them at run time. Empty means not stamped.
var (
	stampedVersion  string
	stampedRevision string
)

// Stamped returns the version and revision set at link time, each empty
// when the build did not set it. A stamped value is what the builder said
// the source was; it wins over Version and over a missing VCS revision.
func Stamped() (version, revision string) { return stampedVersion, stampedRevision }
