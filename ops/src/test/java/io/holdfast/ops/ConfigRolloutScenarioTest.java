package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.FencingGuard;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.StaleTokenException;
import io.holdfast.ops.examples.ConfigAgent;
import io.holdfast.ops.examples.ConfigOrchestrator;
import io.holdfast.server.testing.ProcessCluster;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The incident, replayed with Holdfast: an orchestrator holding the config lock is killed with -9
 * in the middle of an update; agents keep applying only configs their FencingGuard admits; a second
 * orchestrator takes over within TTL + 2 s with a higher token; the dead one's late write is
 * refused by the store and by every agent.
 */
class ConfigRolloutScenarioTest {
  @TempDir
  Path dir;

  /** A process and the lines it prints. */
  record Child(Process process, BlockingQueue<String> lines) {
    String await(String prefix, Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      List<String> other = new ArrayList<>();
      while (System.nanoTime() < end) {
        String line = lines.poll(100, TimeUnit.MILLISECONDS);
        if (line != null && line.startsWith(prefix)) {
          return line;
        }
        if (line != null && other.size() < 40) {
          other.add(line);
        }
      }
      throw new AssertionError("no '" + prefix + "' line within " + timeout + "; it printed:\n"
          + String.join("\n", other));
    }
  }

  static Child orchestrator(String endpoints, String name, long ttlMs) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), ConfigOrchestrator.class.getName(), endpoints, name,
        Long.toString(ttlMs)).redirectErrorStream(true).start();
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          lines.add(line);
        }
      } catch (java.io.IOException ignored) {
        // process gone
      }
    });
    reader.setDaemon(true);
    reader.start();
    return new Child(p, lines);
  }

  @Test
  void aKilledOrchestratorsLateConfigIsRefusedByTheStoreAndEveryAgent() throws Exception {
    long ttlMs = 3_000;
    try (ProcessCluster cluster = new ProcessCluster(3, dir).start()) {
      cluster.awaitLeader(Duration.ofSeconds(60));
      String endpoints = String.join(",", cluster.endpoints());
      List<HoldfastClient> clients = new ArrayList<>();
      List<ConfigAgent> agents = new ArrayList<>();
      Child first = null;
      Child second = null;
      try {
        for (int i = 0; i < 3; i++) {
          HoldfastClient c = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("agent-" + i).build();
          clients.add(c);
          agents.add(new ConfigAgent(c, FencingGuard.inMemory()));
        }
        first = orchestrator(endpoints, "orchestrator-1", ttlMs);
        long oldToken = Long.parseLong(first.await("LEADING", Duration.ofSeconds(30)).split(" ")[1]);
        for (int i = 0; i < 3; i++) {
          first.await("WROTE", Duration.ofSeconds(10));
        }
        second = orchestrator(endpoints, "orchestrator-2", ttlMs);
        Thread.sleep(500); // queued behind the first

        first.process().destroyForcibly(); // kill -9 in the middle of its update loop
        long killed = System.nanoTime();
        long newToken = Long.parseLong(second.await("LEADING", Duration.ofSeconds(ttlMs / 1000 + 20)).split(" ")[1]);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        System.out.printf("config rollout: orchestrator-2 took over %d ms after orchestrator-1 was killed (TTL %d)%n",
            tookMs, ttlMs);
        assertTrue(tookMs <= ttlMs + 2_000, "took over after " + tookMs + " ms");
        assertTrue(newToken > oldToken);
        second.await("WROTE", Duration.ofSeconds(10));

        // The dead orchestrator's write, replayed late with its old token: the store refuses it...
        HoldfastClient probe = clients.get(0);
        String late = "version=999\nwritten_by=orchestrator-1\ntoken=" + oldToken + "\n";
        assertThrows(StaleTokenException.class, () -> {
          try {
            probe.kv().putAsync(ConfigOrchestrator.KEY, late.getBytes(StandardCharsets.UTF_8), -1,
                ConfigOrchestrator.LOCK, oldToken).join();
          } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause();
          }
        });
        assertTrue(probe.kv().get(ConfigOrchestrator.KEY).orElseThrow().valueAsString().contains("orchestrator-2"));

        // ...and so does every agent, once it has applied the new orchestrator's config.
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (ConfigAgent agent : agents) {
          while (agent.applied().stream().noneMatch(d -> d.token() == newToken) && System.nanoTime() < end) {
            Thread.sleep(20);
          }
          assertTrue(agent.applied().stream().anyMatch(d -> d.token() == newToken), "agent saw the new config");
          assertFalse(agent.offer(oldToken, late), "the agent refuses the late config");
          long previous = 0;
          for (ConfigAgent.Decision d : agent.applied()) {
            assertTrue(d.token() >= previous, "an agent never applies an older token after a newer one");
            previous = d.token();
          }
          assertTrue(agent.applied().stream().anyMatch(d -> d.token() == oldToken), "it applied the first one's too");
        }
      } finally {
        if (first != null) {
          first.process().destroyForcibly();
        }
        if (second != null) {
          second.process().destroyForcibly();
        }
        agents.forEach(ConfigAgent::close);
        clients.forEach(HoldfastClient::close);
      }
    }
  }
}
