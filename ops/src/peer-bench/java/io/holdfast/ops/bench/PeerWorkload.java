package io.holdfast.ops.bench;

import java.io.PrintWriter;
import picocli.CommandLine.Mixin;

/** A workload against a peer (etcd or ZooKeeper) cluster that the run starts and removes. */
abstract class PeerWorkload extends Workload<PeerCluster> {
  final PeerTarget.Peer peer;

  @Mixin
  PeerTarget target;

  PeerWorkload(PeerTarget.Peer peer) {
    this.peer = peer;
  }

  abstract String optionProblem();

  @Override
  final String problem() {
    return Workload.first(target.problem(), optionProblem());
  }

  @Override
  final PeerCluster open(PrintWriter err) throws Exception {
    return target.open(peer, err);
  }

  @Override
  final boolean json() {
    return target.json();
  }
}
