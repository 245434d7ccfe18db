// name: orphan_ips_gcp
// description: GCP public IP addresses of Gardener shoots that are gone, or bound only to orphaned VMs.
// severity: warning
// schedule: after-collect
// sources: gardener, gcp
// uses: orphans
// params: provider=gcp, kind=ip
// key: uid
// A thin alert: graphinv runs the orphan report (queries/orphan_ips.cypher) for this provider and kind.
