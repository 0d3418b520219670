package awsemu

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

const eksTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Description: test EKS cluster
Parameters:
  ClusterName:
    Type: String
  KubernetesVersion:
    Type: String
    Default: "1.31"
    AllowedValues: ["1.30", "1.31", "1.32"]
  NodeInstanceType:
    Type: String
    Default: t3.medium
Resources:
  ClusterRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
  ControlPlaneSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: !Sub "${AWS::StackName} control plane"
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: !Ref ClusterName
      Version: !Ref KubernetesVersion
      RoleArn: !GetAtt ClusterRole.Arn
      ResourcesVpcConfig:
        SubnetIds: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
  NodeInstanceRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
  NodeGroup:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      InstanceType: !Ref NodeInstanceType
      Cluster: !Ref Cluster
Outputs:
  NodeInstanceRole:
    Value: !GetAtt NodeInstanceRole.Arn
  ClusterName:
    Value: !Ref Cluster
  SecurityGroup:
    Value: !Ref ControlPlaneSecurityGroup
  Endpoint:
    Value: {"Fn::GetAtt": ["Cluster", "Endpoint"]}
`

// resources in template order, as the timeline creates them.
var eksResources = []string{"ClusterRole", "ControlPlaneSecurityGroup", "Cluster", "NodeInstanceRole", "NodeGroup"}

func params(kv ...string) []cfntypes.Parameter {
	var out []cfntypes.Parameter
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, cfntypes.Parameter{ParameterKey: aws.String(kv[i]), ParameterValue: aws.String(kv[i+1])})
	}
	return out
}

func createInput(name, token string) *cfn.CreateStackInput {
	return &cfn.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(eksTemplate),
		Parameters:         params("ClusterName", "demo"),
		Capabilities:       []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		Tags:               []cfntypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("clusterkit")}},
		ClientRequestToken: aws.String(token),
	}
}

func (v *env) describe(c *cfn.Client, name string) cfntypes.Stack {
	v.t.Helper()
	out, err := c.DescribeStacks(v.ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		v.t.Fatalf("DescribeStacks %s: %v", name, err)
	}
	return out.Stacks[0]
}

// events returns all events oldest first, as "Logical STATUS".
func (v *env) events(c *cfn.Client, name string) ([]string, []cfntypes.StackEvent) {
	v.t.Helper()
	var all []cfntypes.StackEvent
	p := cfn.NewDescribeStackEventsPaginator(c, &cfn.DescribeStackEventsInput{StackName: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(v.ctx)
		if err != nil {
			v.t.Fatal(err)
		}
		all = append(all, page.StackEvents...)
	}
	var out []string
	for i := len(all) - 1; i >= 0; i-- {
		out = append(out, *all[i].LogicalResourceId+" "+string(all[i].ResourceStatus))
	}
	return out, all
}

func TestCreateStackValidation(t *testing.T) {
	v := newEnv(t)
	c := v.cfn(v.assume(3600))
	named := strings.Replace(eksTemplate, "AssumeRolePolicyDocument: {}\n  ControlPlane", "RoleName: fixed\n      AssumeRolePolicyDocument: {}\n  ControlPlane", 1)
	tests := []struct {
		name     string
		mod      func(*cfn.CreateStackInput)
		wantCode string
		wantMsg  string
	}{
		{"no capabilities", func(in *cfn.CreateStackInput) { in.Capabilities = nil }, "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]"},
		{"named IAM needs CAPABILITY_NAMED_IAM", func(in *cfn.CreateStackInput) { in.TemplateBody = aws.String(named) }, "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]"},
		{"missing parameter", func(in *cfn.CreateStackInput) { in.Parameters = nil }, "ValidationError", "Parameters: [ClusterName] must have values"},
		{"unknown parameter", func(in *cfn.CreateStackInput) { in.Parameters = params("ClusterName", "x", "Bogus", "1") }, "ValidationError", "Parameters: [Bogus] do not exist in the template"},
		{"value not allowed", func(in *cfn.CreateStackInput) {
			in.Parameters = params("ClusterName", "x", "KubernetesVersion", "1.20")
		}, "ValidationError", "Parameter 'KubernetesVersion' must be one of AllowedValues"},
		{"template URL", func(in *cfn.CreateStackInput) {
			in.TemplateBody, in.TemplateURL = nil, aws.String("https://s3.amazonaws.com/b/t.yaml")
		}, "ValidationError", "TemplateURL is not supported"},
		{"no template", func(in *cfn.CreateStackInput) { in.TemplateBody = nil }, "ValidationError", "Either Template URL or Template Body must be specified."},
		{"unresolved ref", func(in *cfn.CreateStackInput) {
			in.TemplateBody = aws.String(strings.Replace(eksTemplate, "!Ref NodeInstanceType", "!Ref Missing", 1))
		}, "ValidationError", "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template"},
		{"bad stack name", func(in *cfn.CreateStackInput) { in.StackName = aws.String("1bad_name") }, "ValidationError", "stackName"},
		{"JSON template", func(in *cfn.CreateStackInput) {
			in.TemplateBody = aws.String(`{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}`)
			in.Parameters, in.StackName = nil, aws.String("json-stack")
		}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := createInput("validation", "")
			in.ClientRequestToken = nil
			tc.mod(in)
			_, err := c.CreateStack(v.ctx, in)
			code, msg := apiErr(err)
			if code != tc.wantCode || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("got %q %q (%v), want %q %q", code, msg, err, tc.wantCode, tc.wantMsg)
			}
		})
	}
	var ice *cfntypes.InsufficientCapabilitiesException
	_, err := c.CreateStack(v.ctx, &cfn.CreateStackInput{StackName: aws.String("x"), TemplateBody: aws.String(eksTemplate), Parameters: params("ClusterName", "x")})
	if !errorsAs(err, &ice) {
		t.Fatalf("not a typed InsufficientCapabilitiesException: %T %v", err, err)
	}
}

func TestCreateStackIdempotency(t *testing.T) {
	v := newEnv(t)
	c := v.cfn(v.assume(3600))
	first, err := c.CreateStack(v.ctx, createInput("demo", "tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*first.StackId, "arn:aws:cloudformation:us-east-1:222222222222:stack/demo/") {
		t.Fatalf("stack ID %s", *first.StackId)
	}
	again, err := c.CreateStack(v.ctx, createInput("demo", "tok-1"))
	if err != nil || *again.StackId != *first.StackId {
		t.Fatalf("retry with same token: %v %v", again, err)
	}
	_, err = c.CreateStack(v.ctx, createInput("demo", "tok-2"))
	var ae *cfntypes.AlreadyExistsException
	if !errorsAs(err, &ae) || *ae.Message != "Stack [demo] already exists" {
		t.Fatalf("different token: %v", err)
	}
	all, err := c.DescribeStacks(v.ctx, &cfn.DescribeStacksInput{})
	if err != nil || len(all.Stacks) != 1 {
		t.Fatalf("want exactly 1 stack, got %v %v", all, err)
	}
	info, _ := v.e.Stack("demo")
	if fmt.Sprint(info.ClientRequestTokens) != "[tok-1]" || info.Capabilities[0] != "CAPABILITY_IAM" || info.Tags["managed-by"] != "clusterkit" || info.Parameters["KubernetesVersion"] != "1.31" {
		t.Fatalf("StackInfo %+v", info)
	}
}

func TestStackTimeline(t *testing.T) {
	v := newEnv(t)
	v.e.SetStackScript("demo", StackScript{StepDelay: 10 * time.Second})
	c := v.cfn(v.assume(3600))
	if _, err := c.CreateStack(v.ctx, createInput("demo", "tok-1")); err != nil {
		t.Fatal(err)
	}
	st := v.describe(c, "demo")
	if st.StackStatus != cfntypes.StackStatusCreateInProgress || len(st.Outputs) != 0 {
		t.Fatalf("at t0: %s outputs %v", st.StackStatus, st.Outputs)
	}
	evs, _ := v.events(c, "demo")
	if fmt.Sprint(evs) != "[demo CREATE_IN_PROGRESS]" {
		t.Fatalf("at t0 events %v", evs)
	}
	v.clock.Advance(30 * time.Second) // three steps: ClusterRole done, SG started
	evs, _ = v.events(c, "demo")
	if fmt.Sprint(evs) != "[demo CREATE_IN_PROGRESS ClusterRole CREATE_IN_PROGRESS ClusterRole CREATE_COMPLETE ControlPlaneSecurityGroup CREATE_IN_PROGRESS]" {
		t.Fatalf("at t0+30s events %v", evs)
	}
	v.clock.Advance(80 * time.Second) // 2 events per resource, then the stack's: t0 + 110s
	st = v.describe(c, "demo")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("at t0+110s: %s", st.StackStatus)
	}
	evs, raw := v.events(c, "demo")
	want := []string{"demo CREATE_IN_PROGRESS"}
	for _, r := range eksResources {
		want = append(want, r+" CREATE_IN_PROGRESS", r+" CREATE_COMPLETE")
	}
	want = append(want, "demo CREATE_COMPLETE")
	if fmt.Sprint(evs) != fmt.Sprint(want) {
		t.Fatalf("events\n got %v\nwant %v", evs, want)
	}
	newest := raw[0]
	if *newest.ClientRequestToken != "tok-1" || *newest.PhysicalResourceId != *st.StackId || *newest.EventId == "" ||
		!newest.Timestamp.Equal(v.clock.Now()) || !raw[1].Timestamp.Equal(v.clock.Now().Add(-10*time.Second)) {
		t.Fatalf("newest event %+v", newest)
	}
	outs := map[string]string{}
	for _, o := range st.Outputs {
		outs[*o.OutputKey] = *o.OutputValue
	}
	if !strings.HasPrefix(outs["NodeInstanceRole"], "arn:aws:iam::222222222222:role/demo-NodeInstanceRole-") ||
		outs["ClusterName"] != "demo" || !strings.HasPrefix(outs["SecurityGroup"], "sg-") || !strings.HasPrefix(outs["Endpoint"], "https://") {
		t.Fatalf("outputs %v", outs)
	}
	if again := v.describe(c, "demo"); *again.Outputs[0].OutputValue != *st.Outputs[0].OutputValue {
		t.Fatal("outputs are not stable")
	}
	if len(st.Parameters) != 3 || len(st.Tags) != 1 || st.Capabilities[0] != cfntypes.CapabilityCapabilityIam || *st.Description != "test EKS cluster" {
		t.Fatalf("stack %+v", st)
	}
}

func TestStackRollback(t *testing.T) {
	for _, tc := range []struct {
		onFailure  cfntypes.OnFailure
		wantStatus cfntypes.StackStatus
	}{
		{"", cfntypes.StackStatusRollbackComplete},
		{cfntypes.OnFailureDoNothing, cfntypes.StackStatusCreateFailed},
	} {
		t.Run(string(tc.wantStatus), func(t *testing.T) {
			v := newEnv(t)
			reason := "Resource handler returned message: \"Instance type t3.medium is not supported\""
			v.e.SetStackScript("demo", StackScript{StepDelay: time.Second, FailResource: "NodeGroup", FailReason: reason})
			c := v.cfn(v.assume(3600))
			in := createInput("demo", "tok-1")
			in.OnFailure = tc.onFailure
			if _, err := c.CreateStack(v.ctx, in); err != nil {
				t.Fatal(err)
			}
			v.clock.Advance(time.Minute)
			st := v.describe(c, "demo")
			// The stack's reason is its latest stack event's: set on CREATE_FAILED and
			// ROLLBACK_IN_PROGRESS, empty on ROLLBACK_COMPLETE.
			wantReason := map[bool]string{true: "The following resource(s) failed to create: [NodeGroup]. "}[tc.onFailure != ""]
			if st.StackStatus != tc.wantStatus || aws.ToString(st.StackStatusReason) != wantReason || len(st.Outputs) != 0 {
				t.Fatalf("stack %s %q outputs %v", st.StackStatus, aws.ToString(st.StackStatusReason), st.Outputs)
			}
			evs, raw := v.events(c, "demo")
			var failed []string
			for _, e := range raw {
				if e.ResourceStatus == cfntypes.ResourceStatusCreateFailed && *e.ResourceType != "AWS::CloudFormation::Stack" {
					failed = append(failed, *e.LogicalResourceId+": "+*e.ResourceStatusReason)
				}
			}
			if fmt.Sprint(failed) != "[NodeGroup: "+reason+"]" {
				t.Fatalf("failed events %v", failed)
			}
			if tc.onFailure == "" {
				tail := fmt.Sprint(evs[len(evs)-12:])
				if tail != "[demo ROLLBACK_IN_PROGRESS NodeGroup DELETE_IN_PROGRESS NodeGroup DELETE_COMPLETE NodeInstanceRole DELETE_IN_PROGRESS NodeInstanceRole DELETE_COMPLETE Cluster DELETE_IN_PROGRESS Cluster DELETE_COMPLETE ControlPlaneSecurityGroup DELETE_IN_PROGRESS ControlPlaneSecurityGroup DELETE_COMPLETE ClusterRole DELETE_IN_PROGRESS ClusterRole DELETE_COMPLETE demo ROLLBACK_COMPLETE]" {
					t.Fatalf("rollback tail %v", evs)
				}
				_, err := c.UpdateStack(v.ctx, &cfn.UpdateStackInput{StackName: aws.String("demo"), UsePreviousTemplate: aws.Bool(true), Parameters: params("ClusterName", "x")})
				if code, msg := apiErr(err); code != "ValidationError" || !strings.Contains(msg, "is in ROLLBACK_COMPLETE state and can not be updated") {
					t.Fatalf("update after rollback: %v", err)
				}
			}
		})
	}
}

func TestUpdateStack(t *testing.T) {
	v := newEnv(t)
	v.e.SetStackScript("demo", StackScript{StepDelay: time.Second})
	c := v.cfn(v.assume(3600))
	if _, err := c.CreateStack(v.ctx, createInput("demo", "tok-1")); err != nil {
		t.Fatal(err)
	}
	upd := &cfn.UpdateStackInput{
		StackName: aws.String("demo"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []cfntypes.Parameter{
			{ParameterKey: aws.String("ClusterName"), UsePreviousValue: aws.Bool(true)},
			{ParameterKey: aws.String("KubernetesVersion"), ParameterValue: aws.String("1.32")},
		},
		Capabilities:       []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		ClientRequestToken: aws.String("tok-2"),
	}
	_, err := c.UpdateStack(v.ctx, upd)
	if code, msg := apiErr(err); code != "ValidationError" || !strings.Contains(msg, "is in CREATE_IN_PROGRESS state and can not be updated") {
		t.Fatalf("update while creating: %v", err)
	}
	v.clock.Advance(time.Minute)
	same := *upd
	same.Parameters = params("ClusterName", "demo")
	_, err = c.UpdateStack(v.ctx, &same)
	if code, msg := apiErr(err); code != "ValidationError" || msg != "No updates are to be performed." {
		t.Fatalf("no-op update: %v", err)
	}
	if _, err := c.UpdateStack(v.ctx, upd); err != nil {
		t.Fatal(err)
	}
	if st := v.describe(c, "demo"); st.StackStatus != cfntypes.StackStatusUpdateInProgress || st.LastUpdatedTime == nil {
		t.Fatalf("after UpdateStack: %s", st.StackStatus)
	}
	v.clock.Advance(time.Minute)
	st := v.describe(c, "demo")
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("after update: %s", st.StackStatus)
	}
	for _, p := range st.Parameters {
		if *p.ParameterKey == "KubernetesVersion" && *p.ParameterValue != "1.32" || *p.ParameterKey == "ClusterName" && *p.ParameterValue != "demo" {
			t.Fatalf("parameter %s=%s", *p.ParameterKey, *p.ParameterValue)
		}
	}
	evs, _ := v.events(c, "demo")
	// Only the resource that uses the changed parameter is updated.
	tail := fmt.Sprint(evs[12:])
	if tail != "[demo UPDATE_IN_PROGRESS Cluster UPDATE_IN_PROGRESS Cluster UPDATE_COMPLETE demo UPDATE_COMPLETE_CLEANUP_IN_PROGRESS demo UPDATE_COMPLETE]" {
		t.Fatalf("update events %v", tail)
	}
	info, _ := v.e.Stack("demo")
	if fmt.Sprint(info.ClientRequestTokens) != "[tok-1 tok-2]" {
		t.Fatalf("tokens %v", info.ClientRequestTokens)
	}
}

// A resource that cannot be deleted (say, a security group an out-of-stack ENI still
// uses) leaves the stack DELETE_FAILED with what was not deleted; a later DeleteStack,
// once the cause is gone, deletes the rest.
func TestDeleteStack_FailsThenRetries(t *testing.T) {
	v := newEnv(t)
	const reason = "resource sg-0a1b2c3d4e5f67890 has a dependent object"
	v.e.SetStackScript("demo", StackScript{StepDelay: time.Second, FailDeleteResource: "ControlPlaneSecurityGroup", FailDeleteReason: reason})
	c := v.cfn(v.assume(3600))
	created, err := c.CreateStack(v.ctx, createInput("demo", "tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Minute)
	if _, err := c.DeleteStack(v.ctx, &cfn.DeleteStackInput{StackName: aws.String("demo")}); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Minute)
	if st := v.describe(c, "demo"); st.StackStatus != cfntypes.StackStatusDeleteFailed {
		t.Fatalf("after the failed delete: %s", st.StackStatus)
	}
	evs, raw := v.events(c, "demo")
	want := "[demo DELETE_IN_PROGRESS NodeGroup DELETE_IN_PROGRESS NodeGroup DELETE_COMPLETE NodeInstanceRole DELETE_IN_PROGRESS NodeInstanceRole DELETE_COMPLETE " +
		"Cluster DELETE_IN_PROGRESS Cluster DELETE_COMPLETE ControlPlaneSecurityGroup DELETE_IN_PROGRESS ControlPlaneSecurityGroup DELETE_FAILED demo DELETE_FAILED]"
	if got := fmt.Sprint(evs[12:]); got != want {
		t.Fatalf("delete events\n got %v\nwant %v", got, want)
	}
	if r := raw[1]; *r.LogicalResourceId != "ControlPlaneSecurityGroup" || *r.ResourceStatusReason != reason {
		t.Fatalf("failed event %s: %v", *r.LogicalResourceId, r.ResourceStatusReason)
	}

	v.e.SetStackScript("demo", StackScript{StepDelay: time.Second})
	if _, err := c.DeleteStack(v.ctx, &cfn.DeleteStackInput{StackName: aws.String("demo")}); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Minute)
	evs, _ = v.events(c, *created.StackId)
	want = "[demo DELETE_IN_PROGRESS ControlPlaneSecurityGroup DELETE_IN_PROGRESS ControlPlaneSecurityGroup DELETE_COMPLETE ClusterRole DELETE_IN_PROGRESS ClusterRole DELETE_COMPLETE demo DELETE_COMPLETE]"
	if got := fmt.Sprint(evs[len(evs)-6:]); got != want {
		t.Fatalf("retry events\n got %v\nwant %v", got, want)
	}
}

func TestDeleteStack(t *testing.T) {
	v := newEnv(t)
	v.e.SetStackScript("demo", StackScript{StepDelay: time.Second})
	c := v.cfn(v.assume(3600))
	created, err := c.CreateStack(v.ctx, createInput("demo", "tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Minute)
	if _, err := c.DeleteStack(v.ctx, &cfn.DeleteStackInput{StackName: aws.String("demo"), ClientRequestToken: aws.String("del-1")}); err != nil {
		t.Fatal(err)
	}
	if st := v.describe(c, "demo"); st.StackStatus != cfntypes.StackStatusDeleteInProgress {
		t.Fatalf("after DeleteStack: %s", st.StackStatus)
	}
	v.clock.Advance(time.Minute)
	_, err = c.DescribeStacks(v.ctx, &cfn.DescribeStacksInput{StackName: aws.String("demo")})
	if code, msg := apiErr(err); code != "ValidationError" || msg != "Stack with id demo does not exist" {
		t.Fatalf("by name after delete: %v", err)
	}
	st := v.describe(c, *created.StackId)
	if st.StackStatus != cfntypes.StackStatusDeleteComplete || st.DeletionTime == nil {
		t.Fatalf("by ID after delete: %s", st.StackStatus)
	}
	evs, _ := v.events(c, *created.StackId)
	want := []string{"demo DELETE_IN_PROGRESS"}
	for i := len(eksResources) - 1; i >= 0; i-- {
		want = append(want, eksResources[i]+" DELETE_IN_PROGRESS", eksResources[i]+" DELETE_COMPLETE")
	}
	want = append(want, "demo DELETE_COMPLETE")
	if got := fmt.Sprint(evs[12:]); got != fmt.Sprint(want) {
		t.Fatalf("delete events\n got %v\nwant %v", got, want)
	}
	if _, err := c.DeleteStack(v.ctx, &cfn.DeleteStackInput{StackName: aws.String("demo")}); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	// The name is free again.
	if _, err := c.CreateStack(v.ctx, createInput("demo", "tok-3")); err != nil {
		t.Fatalf("recreate: %v", err)
	}
}

func TestDescribeStackEventsPaging(t *testing.T) {
	v := newEnv(t)
	var b strings.Builder
	b.WriteString("Resources:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "  Topic%02d:\n    Type: AWS::SNS::Topic\n", i)
	}
	c := v.cfn(v.user)
	if _, err := c.CreateStack(v.ctx, &cfn.CreateStackInput{StackName: aws.String("many"), TemplateBody: aws.String(b.String())}); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Minute)
	first, err := c.DescribeStackEvents(v.ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("many")})
	if err != nil || len(first.StackEvents) != 100 || first.NextToken == nil {
		t.Fatalf("first page: %d events, token %v, %v", len(first.StackEvents), first.NextToken, err)
	}
	v.clock.Advance(time.Minute) // nothing new, but paging must not depend on it
	second, err := c.DescribeStackEvents(v.ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("many"), NextToken: first.NextToken})
	if err != nil || len(second.StackEvents) != 22 || second.NextToken != nil {
		t.Fatalf("second page: %d events, %v", len(second.StackEvents), err)
	}
	if first.StackEvents[0].ResourceStatus != cfntypes.ResourceStatusCreateComplete || *second.StackEvents[21].LogicalResourceId != "many" ||
		second.StackEvents[21].ResourceStatus != cfntypes.ResourceStatusCreateInProgress {
		t.Fatalf("page order wrong")
	}
}

func TestFaultsAbsorbedByRetryer(t *testing.T) {
	for _, kind := range []string{"throttle", "5xx"} {
		t.Run(kind, func(t *testing.T) {
			v := newEnv(t)
			c := v.cfn(v.user)
			v.e.InjectFault(Fault{Action: "DescribeStacks", Kind: kind, Count: 2})
			if _, err := c.DescribeStacks(v.ctx, &cfn.DescribeStacksInput{}); err != nil {
				t.Fatalf("retryer did not absorb the fault: %v", err)
			}
			if n := v.countCalls("DescribeStacks"); n != 3 {
				t.Fatalf("%d DescribeStacks calls, want 3", n)
			}
			want := map[string]string{"throttle": "Throttling", "5xx": "InternalFailure"}[kind]
			if calls := v.e.Calls(); calls[0].ErrorCode != want || calls[1].ErrorCode != want || calls[2].ErrorCode != "" {
				t.Fatalf("calls %+v", calls)
			}
			// With more faults than attempts the error surfaces, typed.
			v.e.InjectFault(Fault{Action: "DescribeStacks", Kind: kind, Count: 5})
			_, err := c.DescribeStacks(v.ctx, &cfn.DescribeStacksInput{})
			if code, _ := apiErr(err); code != want {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestGetTemplate(t *testing.T) {
	v := newEnv(t)
	c := v.cfn(v.assume(3600))
	created, err := c.CreateStack(v.ctx, createInput("demo", "tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetTemplate(v.ctx, &cfn.GetTemplateInput{StackName: aws.String("demo")})
	if err != nil || aws.ToString(out.TemplateBody) != eksTemplate || fmt.Sprint(out.StagesAvailable) != "[Original Processed]" {
		t.Fatalf("GetTemplate: %v, %v", out, err)
	}
	_, err = c.GetTemplate(v.ctx, &cfn.GetTemplateInput{StackName: aws.String("demo"), TemplateStage: "Final"})
	if code, msg := apiErr(err); code != "ValidationError" || !strings.Contains(msg, "'Final' at 'templateStage'") {
		t.Fatalf("bad stage: %v", err)
	}
	if _, err = c.GetTemplate(v.ctx, &cfn.GetTemplateInput{}); err == nil {
		t.Fatal("GetTemplate without a stack name succeeded")
	}
	if _, err := c.DeleteStack(v.ctx, &cfn.DeleteStackInput{StackName: aws.String("demo")}); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Minute)
	_, err = c.GetTemplate(v.ctx, &cfn.GetTemplateInput{StackName: aws.String("demo")})
	if code, msg := apiErr(err); code != "ValidationError" || msg != "Stack with id demo does not exist" {
		t.Fatalf("by name after delete: %v", err)
	}
	// By ID a deleted stack's template is still there, as in CloudFormation.
	if out, err := c.GetTemplate(v.ctx, &cfn.GetTemplateInput{StackName: created.StackId}); err != nil || aws.ToString(out.TemplateBody) != eksTemplate {
		t.Fatalf("by ID after delete: %v", err)
	}
}

// TestStackTimeline_ResourceDelays: a resource with a delay takes it from its
// CREATE_IN_PROGRESS to its CREATE_COMPLETE; the other steps keep StepDelay.
func TestStackTimeline_ResourceDelays(t *testing.T) {
	v := newEnv(t)
	v.e.SetStackScript("demo", StackScript{StepDelay: time.Second, ResourceDelays: map[string]time.Duration{"Cluster": 10 * time.Minute}})
	c := v.cfn(v.assume(3600))
	if _, err := c.CreateStack(v.ctx, createInput("demo", "tok-1")); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(time.Hour - time.Minute)
	_, raw := v.events(c, "demo")
	at := map[string]time.Duration{}
	t0 := *raw[len(raw)-1].Timestamp
	for _, e := range raw {
		at[*e.LogicalResourceId+" "+string(e.ResourceStatus)] = e.Timestamp.Sub(t0)
	}
	// 0 stack, 1-2 ClusterRole, 3-4 SG, 5 Cluster started, done 10 minutes later, ...
	if at["Cluster CREATE_IN_PROGRESS"] != 5*time.Second || at["Cluster CREATE_COMPLETE"] != 5*time.Second+10*time.Minute ||
		at["NodeInstanceRole CREATE_IN_PROGRESS"] != 6*time.Second+10*time.Minute || at["demo CREATE_COMPLETE"] != 10*time.Second+10*time.Minute {
		t.Fatalf("timeline %v", at)
	}
}
