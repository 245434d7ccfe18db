// name: orphan_disks_gcp
// description: GCP disks of Gardener shoots that are gone, or left attached only to orphaned VMs.
// severity: warning
// schedule: after-collect
// sources: gardener, gcp
// uses: orphans
// params: provider=gcp, kind=disk
// key: uid
// A thin alert: graphinv runs the orphan report (queries/orphan_disks.cypher) for this provider and kind.
