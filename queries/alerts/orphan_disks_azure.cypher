// name: orphan_disks_azure
// description: Azure disks of Gardener shoots that are gone, or left attached only to orphaned VMs.
// severity: warning
// schedule: after-collect
// sources: gardener, azure
// uses: orphans
// params: provider=azure, kind=disk
// key: uid
// A thin alert: graphinv runs the orphan report (queries/orphan_disks.cypher) for this provider and kind.
