package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// FailedPodLogLines is how many of a failed pod's last log lines RunInstallPod reads.
const FailedPodLogLines = 20

// PodResult describes a pod that succeeded.
type PodResult struct {
	Pod       string
	Namespace string
	Action    Action
	Duration  time.Duration // from RunInstallPod's start until the pod had succeeded (the client's clock)
	// Recovered is what the pod did to a release it found stuck before the install ran
	// (from its termination message); empty when the release was not stuck.
	Recovered []Recovery
}

// Recovery is what an install pod did to a release left pending (pending-install,
// pending-upgrade, pending-rollback: an earlier helm stopped mid-operation, e.g. its pod
// killed or its node lost) so that helm would run again. The script reports each one on a
// line of its own (see installpod.sh):
//
//	clusterkit: recovered: uninstalled pending-install revision 1
//	clusterkit: recovered: rolled back pending-upgrade revision 3 to revision 2
type Recovery struct {
	Status   ReleaseStatus // the pending status the release was left in
	Revision int           // the pending revision
	// RolledBackTo is the last deployed revision the release was rolled back to; 0 when
	// the release (a pending first install) was uninstalled instead.
	RolledBackTo int
}

// String says what was done, in a user's words (no Go names, nothing from the server).
func (r Recovery) String() string {
	if r.RolledBackTo == 0 {
		return fmt.Sprintf("helm's release was left %s at revision %d (a first install stopped midway); it was uninstalled, then installed again", r.Status, r.Revision)
	}
	return fmt.Sprintf("helm's release was left %s at revision %d (an operation stopped midway); it was rolled back to revision %d, the last deployed one, then the planned operation ran",
		r.Status, r.Revision, r.RolledBackTo)
}

const (
	recoveredMarker     = "clusterkit: recovered: "
	unrecoverableMarker = "clusterkit: cannot recover: "
)

var (
	recoveredUninstallRe = regexp.MustCompile(`^uninstalled (pending-install) revision ([0-9]{1,9})$`)
	recoveredRollbackRe  = regexp.MustCompile(`^rolled back (pending-upgrade|pending-rollback) revision ([0-9]{1,9}) to revision ([0-9]{1,9})$`)
)

// parseRecoveries reads the script's recovery lines out of out (a termination message or
// a log tail). Only lines of the script's exact form count: anything else (helm's output,
// a chart's notes) is ignored.
func parseRecoveries(out string) []Recovery {
	var recs []Recovery
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), recoveredMarker)
		if !ok {
			continue
		}
		if m := recoveredUninstallRe.FindStringSubmatch(rest); m != nil {
			rev, _ := strconv.Atoi(m[2])
			recs = append(recs, Recovery{Status: ReleaseStatus(m[1]), Revision: rev})
		} else if m := recoveredRollbackRe.FindStringSubmatch(rest); m != nil {
			rev, _ := strconv.Atoi(m[2])
			to, _ := strconv.Atoi(m[3])
			recs = append(recs, Recovery{Status: ReleaseStatus(m[1]), Revision: rev, RolledBackTo: to})
		}
	}
	return recs
}

// unrecoverableLine is the script's last "cannot recover" line in out, without the
// marker, bounded and stripped of control characters; "" when there is none.
func unrecoverableLine(out string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), unrecoverableMarker); ok {
			return boundLine(rest)
		}
	}
	return ""
}

// boundLine strips control characters and bounds a line of the cluster's text.
func boundLine(line string) string {
	line = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, line)
	if len(line) > maxHelmErrorLength {
		line = strings.ToValidUTF8(line[:maxHelmErrorLength], "") + "…"
	}
	return line
}

// InstallFailedError: the pod ended Failed. Error() gives the exit code, the termination
// reason and the kubectl logs command; Message (the termination message, i.e. the end of
// helm's output) is for the debug log only.
type InstallFailedError struct {
	Action    Action
	Pod       string
	Namespace string
	ExitCode  int32  // -1 when the container never ran to an exit (e.g. the pod was evicted or deleted)
	Reason    string // container termination reason ("Error", "OOMKilled"), else the pod's ("DeadlineExceeded")
	Message   string
	// HelmError is helm's own error line from the end of the output ("Error: ..."),
	// bounded and stripped of control characters; "" when helm printed none. It is the
	// cluster's text: callers mask secrets in it before showing it.
	HelmError string
	// Unrecoverable is the script's reason for not clearing a release left pending (e.g.
	// no deployed revision to roll back to), bounded; "" when it did not try or succeeded.
	Unrecoverable string
	// Recovered is what the pod did to a stuck release before the operation that failed.
	Recovered   []Recovery
	LogsCommand string
	PodKept     bool
}

func (e *InstallFailedError) Error() string {
	code := "without an exit code"
	if e.ExitCode >= 0 {
		code = fmt.Sprintf("with exit code %d", e.ExitCode)
	}
	msg := fmt.Sprintf("%s pod %s/%s failed %s (reason: %s)", e.Action, e.Namespace, e.Pod, code, e.Reason)
	if e.PodKept {
		return msg + "; read its logs with: " + e.LogsCommand
	}
	return msg + "; the pod was deleted, its last log lines are in the provider's debug log (TF_LOG=DEBUG)"
}

// ImagePullError: the node cannot get the install pod's image (a wrong name or tag, a
// registry that refuses the node, no route to it). The kubelet would retry for ever; the
// provider stops once a retry has failed too (ImagePullBackOff) and deletes the pod.
type ImagePullError struct {
	Action     Action
	Pod        string
	Namespace  string
	Image      string
	Reason     string // ErrImagePull, ImagePullBackOff, InvalidImageName, ...
	PodDeleted bool
}

func (e *ImagePullError) Error() string {
	msg := fmt.Sprintf("%s pod %s/%s cannot start: the node cannot pull image %q (%s)", e.Action, e.Namespace, e.Pod, e.Image, e.Reason)
	if e.PodDeleted {
		return msg + "; the pod was deleted"
	}
	return msg
}

// imagePullFailed is the waiting reason of a container whose image the node has given up
// pulling for now (the kubelet's back-off after a failed pull, or a name it refuses).
func imagePullFailed(p *corev1.Pod) (image, reason string, failed bool) {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				for _, c := range p.Spec.Containers {
					if c.Name == cs.Name {
						return c.Image, w.Reason, true // the spec's image: ours, not the node's text
					}
				}
			}
		}
	}
	return "", "", false
}

// InstallTimeoutError: the pod had not finished when ctx ended (or when the pod's own
// deadline plus a scheduling grace had passed). The pod is deleted so that nothing keeps
// running behind the user's back.
type InstallTimeoutError struct {
	Action    Action
	Pod       string
	Namespace string
	Waited    time.Duration
	Phase     corev1.PodPhase // last phase seen; "" if the pod was never seen
	Waiting   string          // the container's waiting reason, e.g. ImagePullBackOff
	// Unscheduled: the pod was never bound to a node (Waiting is then the scheduler's
	// reason, e.g. Unschedulable): taints, node selector, affinity or resources.
	Unscheduled bool
	PodDeleted  bool
	Cause       error // context.DeadlineExceeded or context.Canceled
}

func (e *InstallTimeoutError) Error() string {
	what := "did not finish within " + e.Waited.Round(time.Second).String()
	if errors.Is(e.Cause, context.Canceled) {
		what = "was cancelled after " + e.Waited.Round(time.Second).String()
	}
	state := ""
	switch {
	case e.Unscheduled && e.Waiting != "":
		state = fmt.Sprintf(" (last phase %s, not scheduled on any node: %s)", e.Phase, e.Waiting)
	case e.Phase != "" && e.Waiting != "":
		state = fmt.Sprintf(" (last phase %s, container waiting: %s)", e.Phase, e.Waiting)
	case e.Phase != "":
		state = fmt.Sprintf(" (last phase %s)", e.Phase)
	}
	msg := fmt.Sprintf("%s pod %s/%s %s%s", e.Action, e.Namespace, e.Pod, what, state)
	if e.PodDeleted {
		return msg + "; the pod was deleted so that helm does not keep running"
	}
	return msg + "; deleting the pod failed too, check it with: kubectl get pod -n " + ShellQuote(e.Namespace) + " " + ShellQuote(e.Pod)
}

func (e *InstallTimeoutError) Unwrap() error { return e.Cause }

// RunInstallPod replaces any leftover pod of the same name, creates the pod for action and
// waits for it with a watch. On success the pod is deleted. On failure the last log lines
// go to logf and an *InstallFailedError is returned; on ctx's end the pod is deleted and an
// *InstallTimeoutError is returned. logf may be nil.
func (c *Client) RunInstallPod(ctx context.Context, spec InstallSpec, action Action, logf func(line string)) (PodResult, error) {
	spec = spec.WithDefaults()
	if logf == nil {
		logf = func(string) {}
	}
	if action != ActionInstall && action != ActionUninstall {
		return PodResult{}, fmt.Errorf("unknown install pod action %q", action)
	}
	if err := spec.Validate(); err != nil {
		return PodResult{}, err
	}
	start := c.clock.Now()
	pod := InstallPod(spec, action)
	ns, name := pod.Namespace, pod.Name
	res := PodResult{Pod: name, Namespace: ns, Action: action}
	timeoutErr := func(cause error, last *corev1.Pod) error {
		e := &InstallTimeoutError{Action: action, Pod: name, Namespace: ns, Waited: c.clock.Since(start), Cause: cause}
		if last != nil {
			e.Phase, e.Waiting = last.Status.Phase, waitingReason(last)
			e.Unscheduled = last.Spec.NodeName == ""
		}
		// ctx is over: clean up under a context of our own.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		var uid types.UID
		if last != nil {
			uid = last.UID
		}
		e.PodDeleted = c.deletePod(dctx, ns, name, uid) == nil
		return e
	}

	// Create first: a leftover pod of the same name (a run that was cut off, a failed
	// pod kept for debugging) is rare, and then the create answers AlreadyExists.
	created, err := c.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if err := c.deletePodAndWait(ctx, ns, name, logf); err != nil {
			if ctx.Err() != nil {
				return res, timeoutErr(ctx.Err(), nil)
			}
			return res, err
		}
		created, err = c.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, timeoutErr(ctx.Err(), nil)
		}
		return res, wrap(fmt.Sprintf("create pod %s/%s", ns, name), err)
	}

	waitCtx, cancel := context.WithTimeout(ctx, spec.Timeout+InstallDeadlineMargin+installScheduleGrace)
	defer cancel()
	done, last, err := c.waitPodDone(waitCtx, created, logf)
	var pull *ImagePullError
	if errors.As(err, &pull) {
		// The pod will not start by itself: remove it, as after a timeout.
		pull.PodDeleted = c.deletePod(ctx, ns, name, last.UID) == nil
		return res, pull
	}
	if err != nil {
		if waitCtx.Err() != nil {
			return res, timeoutErr(waitCtx.Err(), last)
		}
		return res, err
	}
	res.Duration = c.clock.Since(start)

	if done.Status.Phase == corev1.PodSucceeded {
		res.Recovered = parseRecoveries(terminationMessage(done))
		if err := c.deletePod(ctx, ns, name, done.UID); err != nil {
			logf(fmt.Sprintf("clusterkit: the finished pod could not be deleted (the next run replaces it): %v", err))
		}
		return res, nil
	}

	failed := podFailure(done, action)
	failed.LogsCommand = LogsCommand(ns, name)
	if done.DeletionTimestamp == nil {
		c.tailLogs(ctx, ns, name, logf)
	}
	failed.PodKept = spec.KeepFailedPod && done.DeletionTimestamp == nil
	if !failed.PodKept {
		_ = c.deletePod(ctx, ns, name, done.UID)
	}
	return res, failed
}

var reasonRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// safeReason keeps a status reason only if it is a plain CamelCase token: it comes from
// the cluster, which may be anything.
func safeReason(s string) string {
	if reasonRe.MatchString(s) {
		return s
	}
	return ""
}

// maxHelmErrorLength bounds the helm error line a diagnostic shows.
const maxHelmErrorLength = 400

// helmErrorLine is the last line of out that helm wrote as its error ("Error: ...").
func helmErrorLine(out string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "Error: ") {
			continue
		}
		// helm 4 joins errors with newlines: the cause ("context deadline exceeded")
		// follows on lines of its own, up to the script's next line.
		for _, more := range lines[i+1:] {
			more = strings.TrimSpace(more)
			if more == "" || strings.HasPrefix(more, "clusterkit: ") {
				break
			}
			line += "; " + more
		}
		return boundLine(line)
	}
	return ""
}

// terminationMessage is the install container's termination message.
func terminationMessage(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == installContainer && cs.State.Terminated != nil {
			return cs.State.Terminated.Message
		}
	}
	return ""
}

func podFailure(p *corev1.Pod, action Action) *InstallFailedError {
	e := &InstallFailedError{Action: action, Pod: p.Name, Namespace: p.Namespace, ExitCode: -1}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != installContainer || cs.State.Terminated == nil {
			continue
		}
		t := cs.State.Terminated
		e.ExitCode, e.Reason, e.Message = t.ExitCode, safeReason(t.Reason), t.Message
	}
	if e.Reason == "" {
		e.Reason = safeReason(p.Status.Reason)
	}
	if e.Message == "" {
		e.Message = p.Status.Message
	}
	if p.DeletionTimestamp != nil && e.Reason == "" {
		e.Reason = "PodDeleted"
	}
	if e.Reason == "" {
		e.Reason = "unknown"
	}
	e.HelmError = helmErrorLine(e.Message)
	e.Unrecoverable = unrecoverableLine(e.Message)
	e.Recovered = parseRecoveries(e.Message)
	return e
}

func waitingReason(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return safeReason(cs.State.Waiting.Reason)
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return safeReason(cond.Reason)
		}
	}
	return ""
}

// tailLogs passes the pod's last log lines to logf. A transient error is retried a few
// times only (readAttempts): the lines are for the debug log, and the failure they explain
// must reach the user without waiting out the apply.
func (c *Client) tailLogs(ctx context.Context, ns, name string, logf func(string)) {
	tail, limit := int64(FailedPodLogLines), int64(64<<10)
	var raw []byte
	err := c.retryCall(ctx, fmt.Sprintf("read the logs of pod %s/%s", ns, name), readAttempts, logf, func() error {
		var err error
		raw, err = c.cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{
			Container: installContainer, TailLines: &tail, LimitBytes: &limit,
		}).DoRaw(ctx)
		return err
	})
	if err != nil {
		logf(fmt.Sprintf("clusterkit: could not read the logs of pod %s/%s: %v", ns, name, wrap("read logs", err)))
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 4096), len(raw)+1)
	for sc.Scan() {
		logf(sc.Text())
	}
}

// watchPod lists the pod by name and hands its state to check, then watches from the
// list's resourceVersion and hands it every change, until check says done or fails (see
// watchPods). check gets gone=true when the pod does not exist (p nil) or was deleted (p
// its last state).
func (c *Client) watchPod(ctx context.Context, ns, name string, check func(p *corev1.Pod, gone bool) (bool, error)) error {
	return c.watchPodLogged(ctx, ns, name, "", nil, check)
}

// watchPodLogged is watchPod telling logf of the API errors it retries; fromRV as in
// watchPods.
func (c *Client) watchPodLogged(ctx context.Context, ns, name, fromRV string, logf func(string), check func(p *corev1.Pod, gone bool) (bool, error)) error {
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
	onList := func(pods []corev1.Pod) (bool, error) {
		for i := range pods {
			if pods[i].Name == name {
				return check(&pods[i], false)
			}
		}
		return check(nil, true)
	}
	onEvent := func(p *corev1.Pod, deleted bool) (bool, error) {
		if p.Name != name {
			return false, nil
		}
		return check(p, deleted)
	}
	return c.watchPods(ctx, ns, opts, fromRV, logf, onList, onEvent)
}

// watchPods lists the pods opts selects and hands them to onList, then watches from the
// list's resourceVersion and hands every change to onEvent, until either says done or
// fails. With fromRV (the resourceVersion of a pod the caller just created) the first
// watch starts there, without a list: the caller knows the state the list would show. When the watch ends (server timeout, lost connection, or 410 Gone for an expired
// resourceVersion) it lists again, so no change is missed and nothing polls. A transient
// API error (see transientError) is retried with backoff until ctx ends: helm keeps
// running through an API server's restart, so must the wait.
func (c *Client) watchPods(ctx context.Context, ns string, opts metav1.ListOptions, fromRV string, logf func(string),
	onList func([]corev1.Pod) (bool, error), onEvent func(p *corev1.Pod, deleted bool) (bool, error)) error {
	api := c.cs.CoreV1().Pods(ns)
	timeout := int64(c.timeout.Seconds() * 0.8) // end each watch before the request timeout cuts it
	if timeout < 1 {
		timeout = 1
	}
	// The backoff starts over only after a watch that worked: a list that succeeds
	// between failing watches is no progress.
	r := newRetryWait(c.clock)
	for rv := fromRV; ; rv = "" {
		if rv == "" {
			list, err := api.List(ctx, opts)
			if err != nil {
				if err := r.retry(ctx, "list pods in "+ns, err, logf); err != nil {
					return err
				}
				continue
			}
			if done, err := onList(list.Items); done || err != nil {
				return err
			}
			rv = list.ResourceVersion
		}
		wopts := opts
		wopts.ResourceVersion, wopts.TimeoutSeconds, wopts.AllowWatchBookmarks = rv, &timeout, true
		opened := c.clock.Now()
		w, err := api.Watch(ctx, wopts)
		if err != nil {
			if err := r.retry(ctx, "watch pods in "+ns, err, logf); err != nil {
				return err
			}
			continue
		}
		changes, done, err := drainPodWatch(ctx, w, onEvent)
		w.Stop()
		if done || err != nil {
			return err
		}
		if err := r.watchEnded(ctx, changes, opened); err != nil {
			return err
		}
	}
}

// drainPodWatch hands the watch's pod events to onEvent until the watch ends; changes
// counts them (bookmarks are no change: a stream cut after each one still backs off).
func drainPodWatch(ctx context.Context, w watch.Interface, onEvent func(*corev1.Pod, bool) (bool, error)) (changes int, done bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return changes, false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return changes, false, nil
			}
			switch ev.Type {
			case watch.Error: // e.g. 410 Gone, or a stream that broke: list again
				return changes, false, nil
			case watch.Bookmark:
				continue
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			changes++
			if done, err := onEvent(p, ev.Type == watch.Deleted); done || err != nil {
				return changes, done, err
			}
		}
	}
}

// waitPodDone waits until the pod reaches Succeeded or Failed, watching from the
// created pod's resourceVersion (no list first: nothing older can matter). last is the
// latest state seen, for timeout reports.
func (c *Client) waitPodDone(ctx context.Context, created *corev1.Pod, logf func(string)) (done, last *corev1.Pod, err error) {
	ns, name := created.Namespace, created.Name
	last = created
	finished := func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	}
	if finished(created) { // the API server's answer to the create (a stage can set it)
		return created, created, nil
	}
	err = c.watchPodLogged(ctx, ns, name, created.ResourceVersion, logf, func(p *corev1.Pod, gone bool) (bool, error) {
		if p != nil && p.UID != created.UID {
			// A namesake made by someone else: ours is gone.
			p, gone = nil, true
		}
		if p != nil {
			last = p
			if finished(p) {
				done = p
				return true, nil
			}
			if image, reason, failed := imagePullFailed(p); failed && p.DeletionTimestamp == nil {
				return false, &ImagePullError{Action: Action(p.Labels[LabelAction]), Pod: name, Namespace: ns, Image: image, Reason: reason}
			}
		}
		if gone {
			e := podFailure(last, Action(last.Labels[LabelAction]))
			e.Reason = "PodDeleted"
			return false, e
		}
		return false, nil
	})
	if err != nil {
		var failed *InstallFailedError
		var pull *ImagePullError
		switch {
		case errors.As(err, &failed), errors.As(err, &pull):
			return nil, last, err
		case ctx.Err() != nil:
			return nil, last, ctx.Err()
		}
		return nil, last, wrap(fmt.Sprintf("watch pod %s/%s", ns, name), err)
	}
	return done, last, nil
}

// deletePod deletes the pod (only the one with uid, when given); a missing pod is fine.
func (c *Client) deletePod(ctx context.Context, ns, name string, uid types.UID) error {
	opts := metav1.DeleteOptions{}
	if uid != "" {
		opts = preconditions(uid)
	}
	err := c.cs.CoreV1().Pods(ns).Delete(ctx, name, opts)
	return ignoreNotFound(wrap(fmt.Sprintf("delete pod %s/%s", ns, name), err))
}

// deletePodAndWait deletes a leftover pod of that name and waits, with a watch, until it
// is gone, so that the new pod never meets the old one.
func (c *Client) deletePodAndWait(ctx context.Context, ns, name string, logf func(string)) error {
	op := fmt.Sprintf("replace pod %s/%s", ns, name)
	var old *corev1.Pod
	err := c.retryCall(ctx, op, 0, logf, func() error {
		var err error
		old, err = c.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(op, err)
	}
	if old.DeletionTimestamp == nil {
		if err := c.deletePod(ctx, ns, name, old.UID); err != nil {
			return err
		}
	}
	err = c.watchPodLogged(ctx, ns, name, "", logf, func(p *corev1.Pod, gone bool) (bool, error) {
		return gone || p.UID != old.UID, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return wrap(op, err)
	}
	return nil
}
