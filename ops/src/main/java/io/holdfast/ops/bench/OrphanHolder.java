package io.holdfast.ops.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
import java.time.Duration;
import java.util.Arrays;

/**
 * The holder process of {@code bench orphan}: takes a lock, says so on stdout, and keeps its
 * session alive until it is killed. Arguments: endpoints (comma-separated), lock name, TTL in ms.
 */
public final class OrphanHolder {
  private OrphanHolder() {}

  public static void main(String[] args) throws Exception {
    HoldfastClient client = HoldfastClient.builder().endpoints(Arrays.asList(args[0].split(",")))
        .clientName("bench-orphan-holder").build();
    Session session = client.newSession(Duration.ofMillis(Long.parseLong(args[2])));
    LockLease lease = session.lock(args[1]);
    System.out.println("HELD " + lease.token() + " " + session.id());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
