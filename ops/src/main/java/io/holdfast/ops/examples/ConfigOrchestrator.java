package io.holdfast.ops.examples;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The config-file use case, orchestrator side: take the lock that guards the fleet's config and
 * write new versions of the config with the lock's fencing token, so that the store (and every
 * agent's {@code FencingGuard}) refuses them once this orchestrator's lock has moved on.
 *
 * <pre>
 * java -cp ... io.holdfast.ops.examples.ConfigOrchestrator 127.0.0.1:7400,127.0.0.1:7401 orchestrator-1
 * </pre>
 *
 * Prints {@code LEADING <token>} once it holds the lock and {@code WROTE <token> <revision>} after
 * each version, until killed or until its lease is lost.
 */
public final class ConfigOrchestrator {
  public static final String LOCK = "fleet/aim_lock_config";
  public static final String KEY = "fleet/aim_lock_config.conf";

  private ConfigOrchestrator() {}

  public static void main(String[] args) throws Exception {
    String endpoints = args[0];
    String name = args.length > 1 ? args[1] : "orchestrator";
    Duration ttl = Duration.ofMillis(args.length > 2 ? Long.parseLong(args[2]) : 5_000);
    try (HoldfastClient client = HoldfastClient.builder().endpoints(endpoints).clientName(name).build();
         Session session = client.newSession(ttl)) {
      LockLease lease = session.lock(LOCK);
      System.out.println("LEADING " + lease.token());
      System.out.flush();
      for (int version = 1; lease.isValid(); version++) {
        String config = "version=" + version + "\nwritten_by=" + name + "\ntoken=" + lease.token() + "\n";
        long revision = client.kv().putFenced(KEY, config.getBytes(StandardCharsets.UTF_8), lease);
        System.out.println("WROTE " + lease.token() + " " + revision);
        System.out.flush();
        Thread.sleep(200);
      }
      System.out.println("LOST " + lease.token());
    }
  }
}
