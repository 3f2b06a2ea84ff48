package io.holdfast.client.testing;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.Leadership;
import io.holdfast.client.Session;
import java.time.Duration;

/**
 * An orchestrator in its own JVM for election tests: campaigns, prints {@code HOLDING <session>
 * <token>} once it leads, and keeps leading until killed. Args: endpoints election ttlMs value.
 */
public final class CampaignerProcess {
  public static void main(String[] args) throws Exception {
    HoldfastClient client = HoldfastClient.builder().endpoints(args[0]).clientName(args[3]).build();
    Session session = client.newSession(Duration.ofMillis(Long.parseLong(args[2])));
    System.out.println("SESSION " + session.id());
    System.out.flush();
    Leadership me = client.election(args[1]).campaign(session, args[3]);
    System.out.println("HOLDING " + session.id() + " " + me.token());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }

  public static Process start(String endpoints, String election, long ttlMs, String value) throws java.io.IOException {
    String javaBin = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(javaBin, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), CampaignerProcess.class.getName(), endpoints, election,
        Long.toString(ttlMs), value).redirectErrorStream(true).start();
  }
}
