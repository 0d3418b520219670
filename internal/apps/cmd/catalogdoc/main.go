// Command catalogdoc prints the app catalog guide (see apps.GuideMarkdown).
package main

import (
	"fmt"

	"github.com/clusterkit-dev/terraform-provider-clusterkit/internal/apps"
)

func main() { fmt.Print(apps.GuideMarkdown()) }
