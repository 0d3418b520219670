// Command terraform-provider-clusterkit serves the clusterkit Terraform provider.
package main

import (
	"context"
	"flag"
	"log"
	"os"

	"github.com/go-logr/logr"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"k8s.io/klog/v2"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/provider"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	quietClientGo()
	stopProfiles := startProfiles(os.Getenv)
	if err := provider.SDKLogLevelsFromCLI(os.Getenv, os.Setenv); err != nil {
		log.Fatal(err.Error())
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address:         "registry.terraform.io/clusterkit-dev/clusterkit",
		Debug:           debug,
		ProtocolVersion: 6,
	})
	stopProfiles()
	if err != nil {
		log.Fatal(err.Error())
	}
}

// quietClientGo silences client-go's own logging (e.g. an informer's "Failed to watch"),
// which quotes what the server answered; the provider reports through its tflog
// subsystems instead.
func quietClientGo() {
	klog.SetLogger(logr.Discard())
}
