// name: orphan_disks_aws
// description: AWS disks of Gardener shoots that are gone, or left attached only to orphaned VMs.
// severity: warning
// schedule: after-collect
// sources: gardener, aws
// uses: orphans
// params: provider=aws, kind=disk
// key: uid
// A thin alert: graphinv runs the orphan report (queries/orphan_disks.cypher) for this provider and kind.
