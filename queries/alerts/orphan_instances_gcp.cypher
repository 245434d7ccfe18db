// name: orphan_instances_gcp
// description: GCP VMs that carry a Gardener shoot's cluster tag but that no Machine runs on,
//   judged on fresh, complete reads of the VM's scope, the shoots and its seed's machines.
// severity: warning
// schedule: after-collect
// sources: gardener, gcp
// uses: orphans
// params: provider=gcp, kind=instance
// key: uid
// A thin alert: graphinv runs the orphan report (queries/orphan_instances.cypher) for this provider
// and kind instead of Cypher here, so the alert and `graphinv orphans` can never disagree.
