package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"sigs.k8s.io/yaml"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/cloud"
	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/kube"
)

const (
	eksDefaultCreate = 45 * time.Minute
	eksDefaultUpdate = 60 * time.Minute
	eksDefaultDelete = 30 * time.Minute
)

func (r *eksClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan eksClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, plan.ExternalID.ValueString())
	timeout, d := plan.Timeouts.Create(ctx, eksDefaultCreate)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	sess, ok := r.session(ctx, plan, &resp.Diagnostics)
	if !ok || !plan.resolveAddons(ctx, sess, nil, nil, &resp.Diagnostics) {
		return
	}
	spec := plan.stackSpec(ctx, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// The token is the same for every attempt of this resource's create: a retried call,
	// or a second apply after a crash, finds the stack it already made.
	spec.Token = cloud.RequestToken("create", plan.ID.ValueString(), plan.ProvisionRoleARN.ValueString())
	stackID, err := sess.CreateStack(ctx, spec)
	if cloud.IsAlreadyExists(err) {
		stackID, err = adoptOwnStack(ctx, sess, plan)
	}
	if err != nil {
		resp.Diagnostics.AddError("Creating the CloudFormation stack failed", cloud.Sanitize(err).Error())
		return
	}
	tflog.SubsystemInfo(ctx, subsystemAWS, "CloudFormation stack accepted", map[string]any{"stack_id": stackID})
	plan.StackID = types.StringValue(stackID)
	plan.Status = types.StringValue("CREATE_IN_PROGRESS")
	r.waitAndFinish(ctx, sess, &plan, cloud.OpCreate, timeout, &resp.Diagnostics)
	plan.fillOutputs(&resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	setIdentity(ctx, resp.Identity, plan.identity(), false, &resp.Diagnostics)
}

// adoptOwnStack resumes a stack this same resource created earlier (its tag says so); any
// other stack of that name is someone else's and is never touched.
func adoptOwnStack(ctx context.Context, sess *cloud.Session, plan eksClusterModel) (string, error) {
	st, err := sess.FindStack(ctx, plan.Name.ValueString())
	if err != nil {
		return "", err
	}
	if st.Tags[stackTagResource] != plan.ID.ValueString() {
		return "", fmt.Errorf("a CloudFormation stack named %s already exists and was not created by this resource; choose another name or import it (terraform import ... %s)", plan.Name.ValueString(), plan.ID.ValueString())
	}
	tflog.SubsystemInfo(ctx, subsystemAWS, "Resuming the stack this resource created before", map[string]any{"stack_id": st.ID, "status": st.Status})
	return st.ID, nil
}

// waitAndFinish waits for the stack, then reads the cluster and bootstraps it. Running out
// of time is a warning, not an error: the state keeps the stack ID and its status, so the
// resource is not tainted and the next apply resumes waiting on the same stack.
func (r *eksClusterResource) waitAndFinish(ctx context.Context, sess *cloud.Session, m *eksClusterModel, op cloud.StackOperation, timeout time.Duration, diags *diag.Diagnostics) {
	st, err := sess.WaitStack(ctx, m.StackID.ValueString(), op, cloud.WaitOptions{Progress: stackProgressLogger(ctx, m.Name.ValueString())})
	var failed *cloud.StackFailedError
	switch {
	case errors.As(err, &failed):
		m.Status = types.StringValue(failed.Status)
		diags.AddError(fmt.Sprintf("CloudFormation stack %s failed", m.Name.ValueString()),
			failed.Error()+"\n\nStack events:\n"+failed.TimelineText()+
				"\n\nThe next apply deletes the failed stack and creates a new one; fix the cause first.")
		return
	case ctx.Err() != nil:
		// ctx is over: read the stack's status under a short context of our own.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if cur, ferr := sess.FindStack(fctx, m.StackID.ValueString()); ferr == nil {
			m.Status = types.StringValue(cur.Status)
		}
		resume := "It keeps running in AWS; run apply again to resume waiting on the same stack (no second stack is created)"
		if m.Endpoint.IsNull() || m.Endpoint.IsUnknown() {
			resume = "Until an apply finishes waiting for it, the cluster_connection has no host, and resources that take it in this apply fail saying so. " + resume
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			diags.AddWarning("Stopped waiting for the CloudFormation stack",
				fmt.Sprintf("Stack %s is still %s after %s. %s, or raise timeouts.%s.", m.Name.ValueString(), m.Status.ValueString(), timeout, resume, op))
			return
		}
		diags.AddWarning("Interrupted while waiting for the CloudFormation stack",
			fmt.Sprintf("The wait was interrupted; stack %s is %s. %s.", m.Name.ValueString(), m.Status.ValueString(), resume))
		return
	case err != nil:
		diags.AddError("Waiting for the CloudFormation stack failed", err.Error())
		return
	}
	m.fromStack(st)
	r.finish(ctx, sess, m, diags)
}

func stackProgressLogger(ctx context.Context, stack string) func(cloud.StackEvent) {
	return func(e cloud.StackEvent) {
		tflog.SubsystemInfo(ctx, subsystemAWS, fmt.Sprintf("CloudFormation %s: %s %s", stack, e.LogicalID, e.Status), map[string]any{
			"resource_type": e.ResourceType, "reason": e.Reason, "time": e.Time.UTC().Format(time.RFC3339),
		})
	}
}

// finish reads the cluster, waits for its API and bootstraps it: the node role in aws-auth
// (CONFIG_MAP mode only: otherwise the stack's access entry lets the nodes join), the
// clusterkit service account and its cluster-admin binding. All idempotent.
func (r *eksClusterResource) finish(ctx context.Context, sess *cloud.Session, m *eksClusterModel, diags *diag.Diagnostics) {
	cl, err := sess.FindCluster(ctx, m.Name.ValueString())
	if err != nil {
		diags.AddError("Reading the EKS cluster failed", err.Error())
		return
	}
	m.fromCluster(cl)
	client, err := r.data.kube.Client(m.kubeConnection(sess))
	if err != nil {
		addKubeError(ctx, diags, "Connecting to the EKS cluster failed", path.Root("endpoint"), err)
		return
	}
	if err := client.WaitReady(ctx); err != nil {
		addKubeError(ctx, diags, "The EKS API server did not become ready", path.Root("endpoint"), err)
		return
	}
	owner := m.owner()
	if cloud.NodesJoinThroughAWSAuth(cl.AuthenticationMode) {
		for _, role := range m.nodeRoles() {
			if err := client.EnsureRoleMapping(ctx, kube.NodeRoleMapping(role), owner); err != nil {
				addKubeError(ctx, diags, "Mapping the node role in kube-system/aws-auth failed", path.Root("endpoint"), err)
				return
			}
		}
	}
	if err := client.EnsureAdminServiceAccount(ctx, eksServiceAccountNamespace, eksServiceAccountName, eksAdminBinding, owner); err != nil {
		addKubeError(ctx, diags, "Creating the clusterkit service account and its cluster-admin binding failed", path.Root("endpoint"), err)
	}
}

// unbootstrap removes what finish created, best effort: the cluster is about to go anyway,
// so failures are only logged.
func (r *eksClusterResource) unbootstrap(ctx context.Context, sess *cloud.Session, state eksClusterModel) {
	client, err := r.data.kube.Client(state.kubeConnection(sess))
	if err != nil {
		tflog.Warn(ctx, "Could not connect to remove the bootstrap objects", map[string]any{"error": err.Error()})
		return
	}
	owner := state.owner()
	steps := []func() error{
		func() error { return client.DeleteClusterRoleBinding(ctx, eksAdminBinding, owner) },
		func() error {
			return client.DeleteServiceAccount(ctx, eksServiceAccountNamespace, eksServiceAccountName, owner)
		},
	}
	// A mapping made while the cluster was in CONFIG_MAP mode may outlive the move to
	// API_AND_CONFIG_MAP; in API mode nothing reads aws-auth, and nothing was written.
	if state.AuthenticationMode.ValueString() != cloud.AuthModeAPI {
		for _, role := range state.nodeRoles() {
			steps = append(steps, func() error { return client.RemoveRoleMapping(ctx, role) })
		}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			tflog.Warn(ctx, "Could not remove a bootstrap object", map[string]any{"error": err.Error()})
		}
	}
}

func (r *eksClusterResource) session(ctx context.Context, m eksClusterModel, diags *diag.Diagnostics) (*cloud.Session, bool) {
	if r.data == nil {
		diags.AddError("Provider not configured", "The clusterkit provider was not configured before use.")
		return nil, false
	}
	sess, err := r.data.cloud.Session(ctx, m.target())
	if err == nil {
		err = sess.VerifyAccess(ctx)
	}
	var access *cloud.AccessError
	switch {
	case errors.As(err, &access):
		diags.AddAttributeError(path.Root("provision_role_arn"), "Cannot assume the provisioning role", err.Error())
		return nil, false
	case err != nil:
		diags.AddError("AWS configuration failed", cloud.Sanitize(err).Error())
		return nil, false
	}
	return sess, true
}

func (r *eksClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state eksClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Kept as stored; computed only for a state written before the resource had one.
	setIdentity(ctx, resp.Identity, state.identity(), true, &resp.Diagnostics)
	if state.ProvisionRoleARN.IsNull() {
		return // just imported: the role comes with the configuration, the update reads the rest
	}
	ctx = withLogging(ctx, state.ExternalID.ValueString())
	sess, ok := r.session(ctx, state, &resp.Diagnostics)
	if !ok {
		return
	}
	ref := state.StackID.ValueString()
	if ref == "" {
		ref = state.Name.ValueString()
	}
	st, err := sess.FindStack(ctx, ref)
	if cloud.IsNotFound(err) {
		tflog.Warn(ctx, "The CloudFormation stack is gone; planning to create it again", map[string]any{"stack": ref})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the CloudFormation stack failed", err.Error())
		return
	}
	state.fromStack(st)
	body := templateOnce(ctx, sess, st, &resp.Diagnostics)
	readNodeGroupsFrom(ctx, body, st, &state, &resp.Diagnostics)
	if state.wantsAddonsRead() {
		if text, ok := body(); ok {
			readAddons(text, &state, &resp.Diagnostics)
		}
	}
	if st.Status == "CREATE_COMPLETE" || st.Status == "UPDATE_COMPLETE" {
		cl, err := sess.FindCluster(ctx, state.Name.ValueString())
		switch {
		case cloud.IsNotFound(err):
			tflog.Warn(ctx, "The EKS cluster of a complete stack is gone")
			state.Endpoint = types.StringNull()
		case err != nil:
			resp.Diagnostics.AddError("Reading the EKS cluster failed", err.Error())
			return
		default:
			state.fromCluster(cl)
		}
	}
	state.fillOutputs(&resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *eksClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state eksClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, plan.ExternalID.ValueString())
	timeout, d := plan.Timeouts.Update(ctx, eksDefaultUpdate)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sess, ok := r.session(ctx, plan, &resp.Diagnostics)
	if !ok {
		return
	}
	ref := state.StackID.ValueString()
	if ref == "" { // imported
		ref = plan.Name.ValueString()
	}
	st, err := sess.FindStack(ctx, ref)
	if err != nil {
		resp.Diagnostics.AddError("Reading the CloudFormation stack failed", err.Error())
		return
	}
	var stackAddons []cloud.Addon
	body := templateOnce(ctx, sess, st, &resp.Diagnostics) // an imported stack's: read once, for add-ons and node groups
	if state.StackID.IsNull() {
		stackAddons = importedAddons(body, &plan, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() || !plan.resolveAddons(ctx, sess, &state, stackAddons, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...) // the stack is as it was
		return
	}
	if state.StackID.IsNull() {
		if field, differs := replaceOnlyDiffers(st, plan.stackSpec(ctx, st.Parameters, &resp.Diagnostics)); differs {
			resp.Diagnostics.AddAttributeError(path.Root(field), "Configuration does not match the imported stack",
				fmt.Sprintf("%s differs from the stack's value; it cannot change in place. Make the configuration match the stack, or replace the cluster.", field))
			return
		}
		if !checkImportedNodeGroups(ctx, body, st, plan, &resp.Diagnostics) {
			return
		}
		if _, declared := st.Parameters["AuthenticationMode"]; declared && isKnown(plan.AuthenticationMode) {
			if err := cloud.CheckAuthModeChange(st.Parameters["AuthenticationMode"], plan.AuthenticationMode.ValueString()); err != nil {
				resp.Diagnostics.AddAttributeError(authModePath, "Configuration does not match the imported stack", err.Error()+".")
				return
			}
		}
	}
	plan.StackID, plan.Status = types.StringValue(st.ID), types.StringValue(st.Status)
	if plan.NodeInstanceRoleARN.IsUnknown() {
		plan.NodeInstanceRoleARN = types.StringValue(st.Outputs[cloud.OutputNodeInstanceRoleArn])
	}
	if v := st.Outputs[cloud.OutputManagedNodeRoleArn]; plan.ManagedNodeRoleARN.IsUnknown() && v != "" {
		plan.ManagedNodeRoleARN = types.StringValue(v)
	}
	save := func() {
		plan.fillOutputs(&resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		setIdentity(ctx, resp.Identity, plan.identity(), true, &resp.Diagnostics)
	}
	// An apply that stopped waiting left the stack in progress: wait for it first.
	if op, inProgress := operationInProgress(st.Status); inProgress {
		tflog.Info(ctx, "Resuming the wait on the stack", map[string]any{"status": st.Status})
		r.waitAndFinish(ctx, sess, &plan, op, timeout, &resp.Diagnostics)
		if resp.Diagnostics.HasError() || ctx.Err() != nil {
			save()
			return
		}
	}
	if stackInputsChanged(state, plan) || state.StackID.IsNull() && stackDiffers(st, plan.stackSpec(ctx, st.Parameters, &resp.Diagnostics)) {
		spec := plan.stackSpec(ctx, st.Parameters, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		spec.Token = cloud.RequestToken("update", plan.ID.ValueString(), fmt.Sprint(spec.Parameters), fmt.Sprint(spec.Tags), spec.TemplateBody)
		changed, err := sess.UpdateStack(ctx, st.ID, spec)
		if err != nil {
			resp.Diagnostics.AddError("Updating the CloudFormation stack failed", err.Error())
			save()
			return
		}
		if changed {
			plan.Status = types.StringValue("UPDATE_IN_PROGRESS")
			r.waitAndFinish(ctx, sess, &plan, cloud.OpUpdate, timeout, &resp.Diagnostics)
			save()
			return
		}
	}
	r.finish(ctx, sess, &plan, &resp.Diagnostics)
	save()
}

func operationInProgress(status string) (cloud.StackOperation, bool) {
	switch status {
	case "CREATE_IN_PROGRESS":
		return cloud.OpCreate, true
	case "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS":
		return cloud.OpUpdate, true
	case "ROLLBACK_IN_PROGRESS":
		return cloud.OpCreate, true
	}
	return "", false
}

// replaceOnlyDiffers names the first attribute the stack cannot change in place that
// differs between the stack and the configuration.
func replaceOnlyDiffers(st *cloud.Stack, spec cloud.StackSpec) (string, bool) {
	for param, attr := range map[string]string{
		"ClusterRoleArn": "cluster_role_arn", "VpcId": "vpc_id", "ServiceIpv4Cidr": "service_ipv4_cidr",
	} {
		v, ok := st.Parameters[param]
		if want, sent := spec.Parameters[param]; ok && sent && v != want {
			return attr, true
		}
	}
	have, want := cloud.ClusterAccessFromParameters(st.Parameters), cloud.ClusterAccessFromParameters(spec.Parameters)
	switch {
	case have.SecretsKeyARN != want.SecretsKeyARN:
		return "secrets_kms_key_arn", true
	case have.IPFamily != want.IPFamily:
		return "ip_family", true
	}
	return "", false
}

func stackDiffers(st *cloud.Stack, spec cloud.StackSpec) bool {
	for k, v := range spec.Parameters {
		if st.Parameters[k] != v {
			return true
		}
	}
	return false
}

func (r *eksClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state eksClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = withLogging(ctx, state.ExternalID.ValueString())
	timeout, d := state.Timeouts.Delete(ctx, eksDefaultDelete)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sess, ok := r.session(ctx, state, &resp.Diagnostics)
	if !ok {
		return
	}
	// Our aws-auth entry goes first, while the API server still answers; the cluster is
	// about to disappear anyway, so a failure is only logged.
	if !state.Endpoint.IsNull() {
		r.unbootstrap(ctx, sess, state)
	}
	ref := state.StackID.ValueString()
	if ref == "" {
		ref = state.Name.ValueString()
	}
	if err := sess.DeleteStack(ctx, ref, cloud.RequestToken("delete", ref)); err != nil {
		resp.Diagnostics.AddError("Deleting the CloudFormation stack failed", err.Error())
		return
	}
	_, err := sess.WaitStack(ctx, ref, cloud.OpDelete, cloud.WaitOptions{Progress: stackProgressLogger(ctx, state.Name.ValueString())})
	var failed *cloud.StackFailedError
	switch {
	case errors.As(err, &failed):
		resp.Diagnostics.AddError(fmt.Sprintf("Deleting stack %s failed", state.Name.ValueString()),
			failed.Error()+"\n\nStack events:\n"+failed.TimelineText()+"\n\nResolve the cause (often resources created outside the stack in its VPC), then destroy again.")
	case err != nil:
		resp.Diagnostics.AddError("Waiting for the stack deletion failed", err.Error())
	}
}

// checkTemplate parses a user template enough to catch what would fail only after minutes.
func checkTemplate(body string) error {
	var t struct {
		Resources map[string]struct {
			Type string `json:"Type"`
		} `json:"Resources"`
		Parameters map[string]json.RawMessage `json:"Parameters"`
		Outputs    map[string]json.RawMessage `json:"Outputs"`
	}
	if err := yaml.Unmarshal([]byte(body), &t); err != nil {
		return fmt.Errorf("not a YAML or JSON CloudFormation template (short-form tags such as !Ref are not supported; use Ref: / Fn::GetAtt:): %w", err)
	}
	if t.Resources[cloud.EKSClusterLogicalID].Type != "AWS::EKS::Cluster" {
		return fmt.Errorf("the template needs an AWS::EKS::Cluster resource with logical ID %s", cloud.EKSClusterLogicalID)
	}
	if _, ok := t.Outputs[cloud.OutputNodeInstanceRoleArn]; !ok {
		return fmt.Errorf("the template needs the output %s", cloud.OutputNodeInstanceRoleArn)
	}
	for _, p := range cloud.EKSClusterTemplateParameters {
		if _, later := cloud.EKSClusterTemplateDefaults[p]; later {
			continue // optional: passed only when declared
		}
		if _, ok := t.Parameters[p]; !ok {
			return fmt.Errorf("the template must declare the parameter %s (the provider passes it)", p)
		}
	}
	return nil
}
