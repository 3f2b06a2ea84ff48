package io.holdfast.ops.bench;

/** The lock clients of one peer bench run, one per bench client, closed together. */
interface PeerLockers extends AutoCloseable {
  /** Bench client {@code c}'s locker, with its own session (ZooKeeper) or lease (etcd). */
  Locker get(int c);

  /** Client instances (connections) the lockers are spread over. */
  int connections();

  @Override
  void close();
}
