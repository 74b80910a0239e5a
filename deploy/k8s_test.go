package deploy_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/chatbench/chatbench/bench/trace"
)

// k8sDir holds the Kubernetes manifests, relative to this package.
const k8sDir = "k8s"

// object is one manifest of deploy/k8s, decoded strictly into its API
// type.
type object struct {
	where string // file and document number, for messages
	kind  string
	name  string
	obj   any // *appsv1.Deployment, *corev1.Service, *batchv1.Job, …
}

// newObject returns an empty value of the API type of apiVersion and kind,
// or nil for a kind the manifests are not expected to hold.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	}
	return nil
}

// decodeManifest decodes one YAML document strictly: a field the API type
// does not have, or a key given twice, is an error (as kubectl apply
// --validate=strict would refuse it).
func decodeManifest(doc []byte) (kind, name string, obj any, err error) {
	var tm struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
	}
	if err := k8syaml.Unmarshal(doc, &tm); err != nil {
		return "", "", nil, err
	}
	if obj = newObject(tm.APIVersion, tm.Kind); obj == nil {
		return "", "", nil, fmt.Errorf("apiVersion %q kind %q: not a kind these manifests use (add it to newObject if it belongs)", tm.APIVersion, tm.Kind)
	}
	if err := k8syaml.UnmarshalStrict(doc, obj); err != nil {
		return "", "", nil, fmt.Errorf("%s %s: %w", tm.Kind, tm.Name, err)
	}
	if tm.Name == "" {
		return "", "", nil, fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	if tm.Namespace != "" {
		return "", "", nil, fmt.Errorf("%s %s: metadata.namespace %q; leave it out so that kubectl apply -n chooses", tm.Kind, tm.Name, tm.Namespace)
	}
	return tm.Kind, tm.Name, obj, nil
}

// docSep separates the documents of a YAML stream.
var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// loadK8s decodes every document of every .yaml file under deploy/k8s.
func loadK8s(t *testing.T) []object {
	t.Helper()
	var objs []object
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
			t.Errorf("%s: not a .yaml manifest; deploy/k8s holds manifests only", path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if len(bytes.TrimSpace(stripComments([]byte(doc)))) == 0 {
				continue
			}
			where := fmt.Sprintf("%s (document %d)", path, i+1)
			kind, name, obj, err := decodeManifest([]byte(doc))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			objs = append(objs, object{where: where, kind: kind, name: name, obj: obj})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("no manifests under deploy/k8s")
	}
	return objs
}

// stripComments drops YAML comment lines.
func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// TestK8sDecodeStrictly decodes every manifest into the Kubernetes API
// types, refusing unknown fields, and shows that the decoding is strict.
func TestK8sDecodeStrictly(t *testing.T) {
	kinds := map[string]int{}
	for _, o := range loadK8s(t) {
		kinds[o.kind]++
	}
	for _, k := range []string{"Deployment", "Service", "ServiceAccount", "PersistentVolumeClaim", "Job"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in deploy/k8s", k)
		}
	}
	for _, c := range []struct{ doc, want string }{
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicass: 2}\n", `unknown field "replicass"`},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {completions: 2, completions: 3}\n", `key "completions" already set`},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {completionMode: Indexed, template: {spec: {containers: [{name: a, args: 5}]}}}\n", "cannot unmarshal"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "not a kind"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: prod}\n", "namespace"},
	} {
		if _, _, _, err := decodeManifest([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want an error containing %q", c.doc, err, c.want)
		}
	}
}

// workload is a pod template of the manifests and what owns it.
type workload struct {
	o        object
	pod      *corev1.PodTemplateSpec
	deploy   *appsv1.Deployment // or nil
	job      *batchv1.Job       // or nil
	replicas int                // a Deployment's replicas, a Job's completions
}

// indexed reports whether w is an Indexed Job.
func (w workload) indexed() bool {
	return w.job != nil && w.job.Spec.CompletionMode != nil && *w.job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func workloads(objs []object) []workload {
	var out []workload
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			n := 1
			if v.Spec.Replicas != nil {
				n = int(*v.Spec.Replicas)
			}
			out = append(out, workload{o: o, pod: &v.Spec.Template, deploy: v, replicas: n})
		case *batchv1.Job:
			n := 1
			if v.Spec.Completions != nil {
				n = int(*v.Spec.Completions)
			}
			out = append(out, workload{o: o, pod: &v.Spec.Template, job: v, replicas: n})
		}
	}
	return out
}

// chatbenchImage is the image the manifests run chatbench from: the one
// docker-compose.yml builds (a deployment retags it for its registry in
// every manifest at once, deploy/README.md).
func chatbenchImage(t *testing.T) string {
	t.Helper()
	img := loadCompose(t).Services["direct"].Image
	if img == "" {
		t.Fatal("docker-compose.yml: service direct names no image")
	}
	return img
}

// commandLine is one chatbench process a manifest or the compose file
// starts: its arguments (after $(VAR) expansion) and the CHATBENCH_
// environment variables it sets.
type commandLine struct {
	where string
	args  []string
	env   []string
}

// words returns the subcommand of args: its leading command words.
func words(args []string) string {
	var w []string
	for _, a := range args {
		if !regexp.MustCompile(`^[a-z]+$`).MatchString(a) {
			break
		}
		w = append(w, a)
	}
	return strings.Join(w, " ")
}

// flagValue returns the value of --name in args ("" and false if absent).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// varRef is a $(VAR) reference, or the $$ escape, in a container's args.
var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand expands $(VAR) in args from vars as the kubelet does: $$ is a
// literal $, and a reference to a variable not defined is left as written.
func expand(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = varRef.ReplaceAllStringFunc(a, func(m string) string {
			if m == "$$" {
				return "$"
			}
			if v, ok := vars[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
	}
	return out
}

// containerRuns is one chatbench container of a workload, with its command
// lines: one per index of an Indexed Job, else one.
type containerRuns struct {
	w     workload
	c     *corev1.Container
	lines [][]string // expanded args
}

// chatbenchContainers returns every container of ws that runs the chatbench
// image, with its expanded command lines. The Job controller gives every
// container of an Indexed Job's pod JOB_COMPLETION_INDEX (0 to
// completions-1); other variables come from the container's own env with
// literal values.
func chatbenchContainers(t *testing.T, ws []workload, image string) []containerRuns {
	t.Helper()
	var out []containerRuns
	for _, w := range ws {
		spec := &w.pod.Spec
		for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
			for i := range list {
				c := &list[i]
				if c.Image != image {
					continue
				}
				vars := map[string]string{}
				for _, e := range c.Env {
					if e.ValueFrom == nil {
						vars[e.Name] = e.Value
					}
				}
				cr := containerRuns{w: w, c: c}
				if w.indexed() {
					for i := range w.replicas {
						vars["JOB_COMPLETION_INDEX"] = strconv.Itoa(i)
						cr.lines = append(cr.lines, expand(c.Args, vars))
					}
				} else {
					cr.lines = [][]string{expand(c.Args, vars)}
				}
				for _, l := range cr.lines {
					for _, a := range l {
						if strings.Contains(a, "$(") {
							t.Errorf("%s: container %s: argument %q reaches chatbench unexpanded (define the variable in env)", w.o.where, c.Name, a)
						}
					}
				}
				if len(c.Command) != 0 {
					t.Errorf("%s: container %s sets command %v; the image's entrypoint is chatbench, give args", w.o.where, c.Name, c.Command)
				}
				out = append(out, cr)
			}
		}
	}
	return out
}

// k8sCommandLines returns every chatbench process the manifests start —
// containers and the health probes they exec — for TestDeployCommandLines.
func k8sCommandLines(t *testing.T) []commandLine {
	objs := loadK8s(t)
	var out []commandLine
	for _, cr := range chatbenchContainers(t, workloads(objs), chatbenchImage(t)) {
		var env []string
		for _, e := range cr.c.Env {
			if strings.HasPrefix(e.Name, "CHATBENCH_") {
				env = append(env, e.Name)
			}
		}
		for i, l := range cr.lines {
			out = append(out, commandLine{where: fmt.Sprintf("%s: container %s (line %d)", cr.w.o.where, cr.c.Name, i), args: l, env: env})
		}
		for _, p := range []*corev1.Probe{cr.c.ReadinessProbe, cr.c.LivenessProbe, cr.c.StartupProbe} {
			if p != nil && p.Exec != nil && len(p.Exec.Command) > 0 && p.Exec.Command[0] == "chatbench" {
				out = append(out, commandLine{where: fmt.Sprintf("%s: container %s: probe", cr.w.o.where, cr.c.Name), args: p.Exec.Command[1:]})
			}
		}
	}
	return out
}

// listenFlags are the flags a chatbench process listens with.
var listenFlags = []string{"--addr", "--callback-addr", "--metrics-addr"}

// containerPort returns the port of c named or numbered p.
func containerPort(c *corev1.Container, p string) (int32, bool) {
	for _, cp := range c.Ports {
		if cp.Name == p || strconv.Itoa(int(cp.ContainerPort)) == p {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// TestK8sWiring checks the manifests fit together the way the chatbench
// processes in them need: Services select one Deployment and reach ports
// its containers declare; each process listens on all interfaces on its
// declared ports and is probed with `chatbench health` (the image is
// distroless) on the port serving /healthz; every URL a process is given
// names a Service of the manifests, on one of its ports, backed by the
// process it expects; several instances of a front door share a Redis
// broker; the queue path reaches real SQS through the standard AWS
// configuration; secrets are referenced consistently.
func TestK8sWiring(t *testing.T) {
	objs := loadK8s(t)
	ws := workloads(objs)
	image := chatbenchImage(t)
	services := map[string]*corev1.Service{}
	accounts := map[string]bool{}
	claims := map[string]bool{}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.Service:
			services[o.name] = v
		case *corev1.ServiceAccount:
			accounts[o.name] = true
		case *corev1.PersistentVolumeClaim:
			claims[o.name] = true
		}
	}

	// backend returns the Deployment a Service selects.
	backend := map[string]workload{}
	for name, svc := range services {
		var sel []workload
		for _, w := range ws {
			if w.deploy != nil && len(svc.Spec.Selector) > 0 && labelsMatch(svc.Spec.Selector, w.pod.Labels) {
				sel = append(sel, w)
			}
		}
		if len(sel) != 1 {
			t.Errorf("Service %s selects %d Deployments, want 1", name, len(sel))
			continue
		}
		backend[name] = sel[0]
		for _, p := range svc.Spec.Ports {
			found := false
			for i := range sel[0].pod.Spec.Containers {
				if _, ok := containerPort(&sel[0].pod.Spec.Containers[i], p.TargetPort.String()); ok {
					found = true
				}
			}
			if !found {
				t.Errorf("Service %s port %d: targetPort %s is no container port of %s", name, p.Port, p.TargetPort.String(), sel[0].o.name)
			}
		}
	}

	for _, w := range ws {
		spec := &w.pod.Spec
		if w.deploy != nil && (w.deploy.Spec.Selector == nil || !labelsMatch(w.deploy.Spec.Selector.MatchLabels, w.pod.Labels)) {
			t.Errorf("%s: selector does not match the pod template's labels", w.o.where)
		}
		if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: pod does not set runAsNonRoot", w.o.where)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken is not false (nothing here calls the Kubernetes API)", w.o.where)
		}
		if a := spec.ServiceAccountName; a != "" && !accounts[a] {
			t.Errorf("%s: serviceAccountName %s is no ServiceAccount of the manifests", w.o.where, a)
		}
		for _, v := range spec.Volumes {
			if v.PersistentVolumeClaim != nil && !claims[v.PersistentVolumeClaim.ClaimName] {
				t.Errorf("%s: volume %s claims %s, which is no PersistentVolumeClaim of the manifests", w.o.where, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			ref := c.Image[strings.LastIndex(c.Image, "/")+1:]
			if _, tag, ok := strings.Cut(ref, ":"); !ok || tag == "" || tag == "latest" {
				t.Errorf("%s: container %s: image %q is not pinned to a tag", w.o.where, c.Name, c.Image)
			}
			if strings.Contains(c.Image, "chatbench") && c.Image != image {
				t.Errorf("%s: container %s runs %q, the others %q: one image, so that one retag changes them all", w.o.where, c.Name, c.Image, image)
			}
		}
	}

	secretEnv := map[string]string{} // key of the chatbench Secret → the variable it sets
	crs := chatbenchContainers(t, ws, image)
	if len(crs) == 0 {
		t.Fatalf("no container runs %s", image)
	}
	for _, cr := range crs {
		where := fmt.Sprintf("%s: container %s", cr.w.o.where, cr.c.Name)
		args := cr.lines[0]
		sub := words(args)

		// Listening: on every interface, on declared ports.
		listens := map[string]int32{}
		for _, f := range listenFlags {
			v, ok := flagValue(args, f)
			if !ok {
				continue
			}
			host, port, err := net.SplitHostPort(v)
			if err != nil || host != "0.0.0.0" {
				t.Errorf("%s: %s %q; in a pod it must listen on 0.0.0.0:<port>", where, f, v)
				continue
			}
			if _, ok := containerPort(cr.c, port); !ok {
				t.Errorf("%s: %s %s: port %s is not among the container's ports", where, f, v, port)
			}
			p, _ := strconv.Atoi(port)
			listens[f] = int32(p)
		}
		for _, cp := range cr.c.Ports {
			if !slices.Contains(slices.Collect(mapsValues(listens)), cp.ContainerPort) {
				t.Errorf("%s: declares port %d (%s), on which it does not listen", where, cp.ContainerPort, cp.Name)
			}
		}

		// Probes of the long-running processes: chatbench health on the
		// port serving /healthz (beside /metrics: --metrics-addr where a
		// process has one, else --addr).
		if cr.w.deploy != nil {
			health := listens["--addr"]
			if p, ok := listens["--metrics-addr"]; ok {
				health = p
			}
			want := []string{"chatbench", "health", "--url", fmt.Sprintf("http://127.0.0.1:%d/healthz", health)}
			for name, p := range map[string]*corev1.Probe{"readinessProbe": cr.c.ReadinessProbe, "livenessProbe": cr.c.LivenessProbe} {
				if p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, want) {
					t.Errorf("%s: %s %+v; want exec %q (the image has no shell)", where, name, p, want)
				}
			}
		}

		// Every URL names a Service on one of its ports, backed by the
		// process the flag expects.
		for _, f := range []struct{ flag, runs string }{
			{"--ml-url", "ml"},
			{"--callback-url", "serve queue"},
			{"--broker", "redis"},
			{"--target", "serve " + func() string { p, _ := flagValue(args, "--path"); return p }()},
		} {
			v, ok := flagValue(args, f.flag)
			if !ok {
				continue
			}
			u, err := url.Parse(v)
			if err != nil || u.Hostname() == "" || u.Port() == "" {
				t.Errorf("%s: %s %q: want scheme://service:port", where, f.flag, v)
				continue
			}
			if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
				t.Errorf("%s: %s %q: loopback in a pod is the pod itself; name the Service", where, f.flag, v)
				continue
			}
			svc, ok := services[u.Hostname()]
			if !ok {
				t.Errorf("%s: %s %q: no Service %s in the manifests", where, f.flag, v, u.Hostname())
				continue
			}
			var target string
			for _, p := range svc.Spec.Ports {
				if strconv.Itoa(int(p.Port)) == u.Port() {
					target = p.TargetPort.String()
				}
			}
			if target == "" {
				t.Errorf("%s: %s %q: Service %s has no port %s", where, f.flag, v, u.Hostname(), u.Port())
				continue
			}
			b, ok := backend[u.Hostname()]
			if !ok {
				continue // reported above
			}
			bc := &b.pod.Spec.Containers[0]
			if f.runs == "redis" {
				if !strings.HasPrefix(bc.Image, "redis:") || u.Scheme != "redis" {
					t.Errorf("%s: %s %q: want redis://<the Redis Service>:port/db, reaching a redis image (Service %s runs %s)", where, f.flag, v, u.Hostname(), bc.Image)
				}
				continue
			}
			bargs := bc.Args
			if got := words(bargs); got != f.runs {
				t.Errorf("%s: %s %q reaches %s, which runs chatbench %q; want chatbench %s", where, f.flag, v, b.o.name, got, f.runs)
			}
			if f.flag == "--callback-url" {
				cb, _ := flagValue(bargs, "--callback-addr")
				if p, ok := containerPort(bc, target); !ok || !strings.HasSuffix(cb, fmt.Sprintf(":%d", p)) {
					t.Errorf("%s: %s %q reaches port %s of %s, which takes callbacks on %q", where, f.flag, v, target, b.o.name, cb)
				}
			}
		}

		// Several instances of a front door must share a broker.
		if (sub == "serve direct" || sub == "serve queue") && cr.w.replicas > 1 {
			if b, _ := flagValue(args, "--broker"); !strings.HasPrefix(b, "redis://") {
				t.Errorf("%s: %d replicas of chatbench %s with --broker %q; several instances need --broker redis://…", where, cr.w.replicas, sub, b)
			}
		}

		// The queue path: real SQS by the standard AWS configuration.
		if sub == "serve queue" || sub == "worker" {
			ep, set := flagValue(args, "--sqs-endpoint")
			switch {
			case sub == "serve queue" && ep != "aws":
				t.Errorf("%s: --sqs-endpoint %q; the gateway needs aws (without it, it starts an embedded endpoint)", where, ep)
			case sub == "worker" && set:
				t.Errorf("%s: --sqs-endpoint %q; the worker finds SQS by the standard AWS configuration", where, ep)
			}
			region := false
			for _, e := range cr.c.Env {
				if strings.HasPrefix(e.Name, "AWS_ENDPOINT_URL") {
					t.Errorf("%s: %s overrides the SQS endpoint; real SQS needs none", where, e.Name)
				}
				region = region || (e.Name == "AWS_REGION" && e.Value != "")
			}
			if !region {
				t.Errorf("%s: no AWS_REGION", where)
			}
			creds := false
			for _, ef := range cr.c.EnvFrom {
				creds = creds || (ef.SecretRef != nil && ef.SecretRef.Optional != nil && *ef.SecretRef.Optional)
			}
			if !creds || cr.w.pod.Spec.ServiceAccountName == "" {
				t.Errorf("%s: want credentials from an optional Secret (envFrom) or the ServiceAccount's role (IRSA)", where)
			}
		}

		for _, e := range cr.c.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != "chatbench" {
				t.Errorf("%s: %s from Secret %q; the manifests' secrets are in Secret chatbench (deploy/README.md)", where, e.Name, ref.Name)
			}
			if prev, ok := secretEnv[ref.Key]; ok && prev != e.Name {
				t.Errorf("%s: key %s sets %s here and %s elsewhere; one key, one setting", where, ref.Key, e.Name, prev)
			}
			secretEnv[ref.Key] = e.Name
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for key := range secretEnv {
		if !bytes.Contains(readme, []byte("--from-literal="+key+"=")) {
			t.Errorf("deploy/README.md does not say how to create key %s of Secret chatbench", key)
		}
	}
}

// mapsValues yields m's values.
func mapsValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// labelsMatch reports whether every label of sel is in labels.
func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestK8sIndexedJobs checks the driver's Indexed Jobs: completions,
// parallelism and the n of --shard $(JOB_COMPLETION_INDEX)/n agree, so
// that pod i replays shard i of n and the pods together the whole trace;
// each pod writes its own results file on a shared volume; and a merge Job
// reads exactly those files from the same volume.
func TestK8sIndexedJobs(t *testing.T) {
	ws := workloads(loadK8s(t))
	crs := chatbenchContainers(t, ws, chatbenchImage(t))
	type mergeJob struct {
		where   string
		claim   string
		inputs  []string
		output  string
		readers []string // what its other containers read
	}
	var merges []mergeJob
	for _, cr := range crs {
		if cr.w.job == nil || cr.w.indexed() || words(cr.lines[0]) != "report merge" {
			continue
		}
		args := cr.lines[0]
		m := mergeJob{where: cr.w.o.where}
		m.output, _ = flagValue(args, "-o")
		for i := 2; i < len(args); i++ {
			if args[i] == "-o" {
				i++
				continue
			}
			m.inputs = append(m.inputs, args[i])
		}
		m.claim = claimAt(cr.w, cr.c, m.output)
		for _, other := range crs {
			if other.w.o.where == cr.w.o.where && other.c != cr.c {
				m.readers = append(m.readers, other.lines[0]...)
			}
		}
		merges = append(merges, m)
	}

	indexed := 0
	for _, cr := range crs {
		if !cr.w.indexed() {
			continue
		}
		indexed++
		j, where := cr.w.job, cr.w.o.where
		if j.Spec.Completions == nil || j.Spec.Parallelism == nil || *j.Spec.Parallelism != *j.Spec.Completions {
			t.Errorf("%s: completions %s, parallelism %s; want both set and equal: the shards run side by side", where, count(j.Spec.Completions), count(j.Spec.Parallelism))
		}
		if cr.w.pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %q; want Never (a shard restarted in place replays its slice again, later)", where, cr.w.pod.Spec.RestartPolicy)
		}
		raw, ok := flagValue(cr.c.Args, "--shard")
		if want := fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", cr.w.replicas); !ok || raw != want {
			t.Errorf("%s: --shard %q; want %q (n = completions)", where, raw, want)
		}
		var outs []string
		claim := ""
		for i, l := range cr.lines {
			s, _ := flagValue(l, "--shard")
			si, sn, err := trace.ParseShard(s)
			if err != nil || si != i || sn != cr.w.replicas {
				t.Errorf("%s: pod %d runs --shard %q; want %d/%d", where, i, s, i, cr.w.replicas)
			}
			out, ok := flagValue(l, "--out")
			if !ok {
				t.Errorf("%s: pod %d writes no --out", where, i)
				continue
			}
			if slices.Contains(outs, out) {
				t.Errorf("%s: pods write the same --out %s; put $(JOB_COMPLETION_INDEX) in it", where, out)
			}
			outs = append(outs, out)
			claim = claimAt(cr.w, cr.c, out)
		}
		if claim == "" {
			t.Errorf("%s: --out %v is on no PersistentVolumeClaim mounted in the pod: the results would go with the pod", where, outs)
			continue
		}
		found := false
		for _, m := range merges {
			if !slices.Equal(m.inputs, outs) {
				continue
			}
			found = true
			if m.claim != claim {
				t.Errorf("%s: merges from claim %q, the shards of %s write to %q", m.where, m.claim, where, claim)
			}
			if !slices.Contains(m.readers, m.output) {
				t.Errorf("%s: no container reads the merged %s", m.where, m.output)
			}
		}
		if !found {
			t.Errorf("%s: no merge Job runs report merge on exactly %v", where, outs)
		}
	}
	if indexed == 0 {
		t.Error("no Indexed Job runs the driver")
	}
}

// count formats an optional count.
func count(n *int32) string {
	if n == nil {
		return "unset"
	}
	return strconv.Itoa(int(*n))
}

// claimAt returns the PersistentVolumeClaim mounted in c on a directory
// holding file, or "".
func claimAt(w workload, c *corev1.Container, file string) string {
	for _, vm := range c.VolumeMounts {
		if !strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			continue
		}
		for _, v := range w.pod.Spec.Volumes {
			if v.Name == vm.Name && v.PersistentVolumeClaim != nil {
				return v.PersistentVolumeClaim.ClaimName
			}
		}
	}
	return ""
}
