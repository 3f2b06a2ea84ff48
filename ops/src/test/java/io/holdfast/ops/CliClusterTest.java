package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.FencingGuard;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
import io.holdfast.server.testing.ProcessCluster;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The operator's CLI against a real cluster: the node-7 story and the safe bypass, through the CLI. */
class CliClusterTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path dir;
  static ProcessCluster cluster;
  static String endpoints;

  @BeforeAll
  static void start() {
    cluster = new ProcessCluster(3, dir.resolve("cluster"), java.util.Map.of("checkpoint-interval-ms", "250")).start();
    cluster.awaitLeader(Duration.ofSeconds(60));
    endpoints = String.join(",", cluster.endpoints());
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  record Run(int code, String out, String err) {}

  /** Runs the CLI in this JVM; {@code --endpoints} is added after the (sub)command words. */
  static Run cli(String... args) {
    List<String> a = new ArrayList<>(List.of(args));
    int at = 0;
    while (at < a.size() && !a.get(at).startsWith("-") && isCommandWord(a.subList(0, at + 1))) {
      at++;
    }
    a.addAll(at, List.of("--endpoints", endpoints));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = HoldfastCli.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(a.toArray(new String[0]));
    return new Run(code, out.toString(), err.toString());
  }

  private static boolean isCommandWord(List<String> path) {
    CommandLine c = HoldfastCli.commandLine();
    for (String w : path) {
      c = c.getSubcommands().get(w);
      if (c == null) {
        return false;
      }
    }
    return true;
  }

  static Process spawn(String... args) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), HoldfastCli.class.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve("spawned-" + System.nanoTime() + ".log").toFile()).start();
  }

  static JsonNode lock(String name) throws Exception {
    Run r = cli("lock", "show", name, "-o", "json");
    assertEquals(0, r.code(), r.err());
    return JSON.readTree(r.out());
  }

  static void killTree(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  @Test
  void theNode7StoryThroughTheCliAlone() throws Exception {
    Path tokenFile = dir.resolve("next-token");
    Process node7 = spawn("lock", "run", "fleet/config", "--endpoints", endpoints, "--ttl", "3s", "--lock-delay", "2s",
        "--client-name", "node-7", "--", "sleep", "600");
    Process node8 = null;
    try {
      JsonNode held = awaitState("fleet/config", "HELD", Duration.ofSeconds(30));
      assertEquals("node-7", held.get("holder").get("client").asText());
      assertEquals(node7.pid(), held.get("holder").get("pid").asLong(), "the lock names the holder's pid");
      assertFalse(held.get("holder").get("host").asText().isEmpty(), "and its host");
      long oldToken = held.get("token").asLong();
      Run table = cli("locks", "fleet/");
      assertTrue(table.out().contains("node-7@") && table.out().contains("pid " + node7.pid()), table.out());

      node8 = spawn("lock", "run", "fleet/config", "--endpoints", endpoints, "--wait", "30s", "--client-name", "node-8",
          "--", "sh", "-c", "echo $HOLDFAST_FENCING_TOKEN > " + tokenFile);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (lock("fleet/config").get("waiters").size() == 0 && System.nanoTime() < end) {
        Thread.sleep(50);
      }
      killTree(node7); // kill -9: node-7 crashes holding the lock

      JsonNode orphaned = awaitState("fleet/config", "ORPHANED", Duration.ofSeconds(15));
      assertEquals("node-7", orphaned.get("former_holder").get("client").asText());
      assertEquals(node7.pid(), orphaned.get("former_holder").get("pid").asLong());
      assertEquals("EXPIRED", orphaned.get("free_reason").asText());
      assertEquals(oldToken, orphaned.get("token").asLong());
      assertTrue(cli("locks").out().contains("ORPHANED"));

      assertTrue(node8.waitFor(30, TimeUnit.SECONDS), "node-8 got the lock and ran its command");
      assertEquals(0, node8.exitValue());
      long newToken = Long.parseLong(Files.readString(tokenFile).trim());
      assertTrue(newToken > oldToken, "next holder's token " + newToken + " > " + oldToken);

      JsonNode audit = JSON.readTree(cli("audit", "--lock", "fleet/config", "-o", "json").out());
      assertTrue(audit.size() >= 1);
      assertEquals("EXPIRED", audit.get(0).get("kind").asText());
      assertEquals("node-7", audit.get(0).get("client").asText());
    } finally {
      killTree(node7);
      if (node8 != null) {
        killTree(node8);
      }
    }
  }

  @Test
  void aRunThatWaitedCountsItsMaxHoldFromTheGrant() throws Exception {
    Path done = dir.resolve("waited-" + System.nanoTime());
    Process first = spawn("lock", "run", "maxhold/run", "--endpoints", endpoints, "--", "sleep", "600");
    Process second = null;
    try {
      awaitState("maxhold/run", "HELD", Duration.ofSeconds(30));
      // It waits longer than its max hold before the lock is its: counted from its request, the
      // lease would be over before the grant, and the command stopped as soon as it began.
      second = spawn("lock", "run", "maxhold/run", "--endpoints", endpoints, "--wait", "60s", "--max-hold", "3s",
          "--", "sh", "-c", "sleep 1; echo $HOLDFAST_FENCING_TOKEN > " + done);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (lock("maxhold/run").get("waiters").size() == 0 && System.nanoTime() < end) {
        Thread.sleep(50);
      }
      Thread.sleep(4_000);
      first.destroy(); // SIGTERM: the command stops and the lock is released
      assertTrue(second.waitFor(30, TimeUnit.SECONDS), "the waiting run got the lock and finished");
      assertEquals(0, second.exitValue(), "its command ran to the end within its 3 s max hold");
      assertTrue(Files.exists(done));
    } finally {
      killTree(first);
      if (second != null) {
        killTree(second);
      }
    }
  }

  /**
   * "Not acquired, nothing ran" has a code of its own (75, or --conflict-exit-code), never one a
   * command that ran and failed would give; a command that cannot start gives 127, as in a shell.
   */
  @Test
  void lockRunSaysWhetherTheCommandRan() throws Exception {
    try (HoldfastClient client = HoldfastClient.builder().endpoints(cluster.endpoints()).build();
         Session s = client.newSession(Duration.ofSeconds(30));
         LockLease held = s.tryLock("codes/busy").orElseThrow()) {
      Path ran = dir.resolve("ran-" + System.nanoTime());
      Run busy = cli("lock", "run", "codes/busy", "--wait", "1s", "--", "touch", ran.toString());
      assertEquals(75, busy.code(), busy.toString());
      assertTrue(busy.err().contains("not acquired within 1s; the command did not run"), busy.err());
      Run chosen = cli("lock", "run", "codes/busy", "--wait", "1s", "-E", "9", "--", "touch", ran.toString());
      assertEquals(9, chosen.code(), chosen.toString());
      assertFalse(Files.exists(ran));
    }
    Run failed = cli("lock", "run", "codes/free", "--", "sh", "-c", "exit 3");
    assertEquals(3, failed.code(), "the command's own code passes through: " + failed);
    Run missing = cli("lock", "run", "codes/free", "--", "no-such-command-" + System.nanoTime());
    assertEquals(127, missing.code(), missing.toString());
    assertTrue(missing.err().contains("cannot start no-such-command-"), missing.err());
    assertEquals("FREE", lock("codes/free").get("state").asText(), "released at once, not left to the TTL");
  }

  /**
   * A run whose session ends while it is queued never held the lock and ran nothing: the conflict
   * code, as for a lock still busy at the end of --wait (it was 3, "not found", before).
   */
  @Test
  void aRunWhoseSessionEndsWhileQueuedGivesTheConflictCode() throws Exception {
    try (HoldfastClient client = HoldfastClient.builder().endpoints(cluster.endpoints()).build();
         Session s = client.newSession(Duration.ofSeconds(30));
         LockLease held = s.tryLock("codes/queued").orElseThrow()) {
      Path ran = dir.resolve("ran-" + System.nanoTime());
      java.util.concurrent.CompletableFuture<Run> queued = java.util.concurrent.CompletableFuture.supplyAsync(() ->
          cli("lock", "run", "codes/queued", "--wait", "60s", "--", "touch", ran.toString()));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      JsonNode l = lock("codes/queued");
      while (l.get("waiters").size() == 0 && System.nanoTime() < end) {
        Thread.sleep(50);
        l = lock("codes/queued");
      }
      long waiter = l.get("waiters").get(0).get("session_id").asLong();
      Run expire = cli("session", "expire", Long.toString(waiter), "--reason", "queued run test");
      assertEquals(0, expire.code(), expire.toString());
      Run r = queued.get(30, TimeUnit.SECONDS);
      assertEquals(75, r.code(), r.toString());
      assertTrue(r.err().contains("not acquired"), r.err());
      assertFalse(Files.exists(ran));
    }
  }

  @Test
  void revokeIsTheSafeBypass() throws Exception {
    Process node7 = spawn("lock", "run", "fleet/revoke", "--endpoints", endpoints, "--ttl", "6s", "--client-name",
        "node-7", "--", "sleep", "600");
    try {
      JsonNode held = awaitState("fleet/revoke", "HELD", Duration.ofSeconds(30));
      long oldToken = held.get("token").asLong();
      long oldSession = held.get("holder").get("session_id").asLong();
      FencingGuard resource = FencingGuard.fileBacked(dir.resolve("resource-fencing"));
      assertTrue(resource.admit("fleet/revoke", oldToken), "node-7 writes while it holds the lock");
      Run write = cli("kv", "put", "fleet/revoke.conf", "--value", "v1", "--fence-lock", "fleet/revoke",
          "--fence-token", Long.toString(oldToken));
      assertEquals(0, write.code(), write.err());

      Run dry = cli("revoke", "fleet/revoke", "--reason", "node-7 is wedged", "--dry-run", "-o", "json");
      assertEquals(0, dry.code(), dry.err());
      JsonNode d = JSON.readTree(dry.out());
      assertTrue(d.get("dry_run").asBoolean());
      assertEquals(oldToken, d.get("former_token").asLong());
      assertEquals(oldToken, lock("fleet/revoke").get("token").asLong(), "a dry run changes nothing");
      assertEquals("HELD", lock("fleet/revoke").get("state").asText());
      assertEquals(0, JSON.readTree(cli("audit", "--lock", "fleet/revoke", "-o", "json").out()).size());

      Run text = cli("revoke", "fleet/revoke", "--reason", "node-7 is wedged", "--dry-run");
      assertTrue(text.out().contains("--if-token " + oldToken), text.out());
      // A grant the operator did not look at is left alone.
      Run other = cli("revoke", "fleet/revoke", "--reason", "node-7 is wedged", "--if-token",
          Long.toString(oldToken - 1));
      assertEquals(3, other.code(), other.out() + other.err());
      assertTrue(other.err().contains("nothing revoked"), other.err());
      assertEquals(oldToken, lock("fleet/revoke").get("token").asLong());

      Run r = cli("revoke", "fleet/revoke", "--reason", "node-7 is wedged", "--as", "sre-alice", "--if-token",
          Long.toString(oldToken));
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("revoked 'fleet/revoke' from session " + oldSession), r.out());

      // The holder learns from its next keepalive answer and stops its command: exit code 4.
      assertTrue(node7.waitFor(15, TimeUnit.SECONDS), "lock run noticed the revocation");
      assertEquals(4, node7.exitValue());

      try (HoldfastClient client = HoldfastClient.builder().endpoints(cluster.endpoints()).build();
           Session s = client.newSession(Duration.ofSeconds(10));
           LockLease next = s.tryLock("fleet/revoke").orElseThrow()) {
        assertTrue(next.token() > oldToken);
        assertTrue(resource.admit("fleet/revoke", next.token()));
        assertFalse(resource.admit("fleet/revoke", oldToken), "the former holder's fenced write is refused");
      }

      // The store refuses node-7's late write as well: its token is not the lock's current one.
      Run late = cli("kv", "put", "fleet/revoke.conf", "--value", "v-late", "--fence-lock", "fleet/revoke",
          "--fence-token", Long.toString(oldToken));
      assertEquals(3, late.code(), late.out() + late.err());
      assertTrue(late.err().contains("stale"), late.err());
      assertEquals("v1", cli("kv", "get", "fleet/revoke.conf").out());
      Run watched = cli("watch", "fleet/revoke", "--for", "1s", "-o", "json");
      assertEquals(0, watched.code(), watched.err());
      JsonNode now = JSON.readTree(watched.out().lines().filter(l -> l.contains("KEY_PUT")).findFirst().orElseThrow());
      assertTrue(now.get("snapshot").asBoolean());
      assertEquals(oldToken, now.get("token").asLong());
      JsonNode kvs = JSON.readTree(cli("kv", "ls", "fleet/", "-o", "json").out());
      assertEquals(oldToken, kvs.get(0).get("fence_token").asLong());

      JsonNode audit = JSON.readTree(cli("audit", "--lock", "fleet/revoke", "-o", "json").out());
      assertEquals(1, audit.size());
      assertEquals("REVOKED", audit.get(0).get("kind").asText());
      assertEquals("node-7 is wedged", audit.get(0).get("reason").asText());
      assertEquals("sre-alice", audit.get(0).get("requested_by").asText());
      assertEquals(oldSession, audit.get(0).get("session_id").asLong());
      assertEquals(oldToken, audit.get(0).get("token").asLong());
    } finally {
      killTree(node7);
    }
  }

  @Test
  void everyCommandHasHelpWithAnExampleAndExitCodesAreClear() throws Exception {
    List<List<String>> commands = new ArrayList<>();
    collect(HoldfastCli.commandLine(), new ArrayList<>(), commands);
    assertTrue(commands.size() >= 10, commands.toString());
    for (List<String> c : commands) {
      List<String> args = new ArrayList<>(c);
      args.add("--help");
      StringWriter out = new StringWriter();
      CommandLine cl = HoldfastCli.commandLine();
      cl.setOut(new PrintWriter(out, true));
      assertEquals(0, cl.execute(args.toArray(new String[0])), "help of " + c);
      assertTrue(out.toString().contains("Example"), "help of " + c + " shows an example:\n" + out);
    }
    assertEquals(2, cli("lock", "show", "bad name").code());
    assertEquals(2, cli("locks", "--no-such-flag").code());
    Run missing = cli("session", "expire", "987654321", "--reason", "gone");
    assertEquals(3, missing.code());
    assertEquals(1, missing.err().strip().lines().count(), "one line on stderr: " + missing.err());
    assertEquals(3, cli("revoke", "nothing/here", "--reason", "x").code());
    assertEquals(2, cli("revoke", "nothing/here").code(), "--reason is required");

    // A new cluster writes the first negotiated rules until its leader has asked every member (every 5 s).
    int rules = io.holdfast.server.state.LogEntry.RULES;
    JsonNode status = JSON.readTree(cli("status", "-o", "json").out());
    long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < until && !java.util.stream.StreamSupport.stream(status.get("members").spliterator(), false)
        .allMatch(m -> m.get("apply_rules").asInt() == rules)) {
      Thread.sleep(250);
      status = JSON.readTree(cli("status", "-o", "json").out());
    }
    assertTrue(status.get("healthy").asBoolean());
    assertEquals(3, status.get("members").size());
    for (JsonNode m : status.get("members")) {
      assertEquals(rules, m.get("apply_rules").asInt(), m.toString());
      assertEquals(rules, m.get("apply_rules_supported").asInt(), m.toString());
    }
    assertTrue(cli("status").out().contains("apply rules: " + rules + "\n"), "every member knows what the cluster writes");
    JsonNode sessions = JSON.readTree(cli("sessions", "-o", "json").out());
    assertTrue(sessions.isArray());
  }

  /** A member left out of --endpoints (added after $HOLDFAST_ENDPOINTS was set) is still asked, and named. */
  @Test
  void statusAsksEveryMemberNotOnlyTheEndpointsGiven() throws Exception {
    CliRunner.Run r = CliRunner.run("status", "--endpoints", cluster.endpoint(0) + "," + cluster.endpoint(1), "-o",
        "json");
    assertEquals(0, r.code(), r.toString());
    JsonNode status = JSON.readTree(r.out());
    assertTrue(status.get("healthy").asBoolean(), r.out());
    assertFalse(status.get("cluster_id").asText().isEmpty());
    assertEquals(3, status.get("members").size(), r.out());
    JsonNode third = status.get("members").get(2);
    assertEquals(cluster.endpoint(2), third.get("endpoint").asText());
    assertEquals("ok", third.get("health").asText());
    assertFalse(third.get("in_endpoints").asBoolean());
    assertEquals("not in --endpoints", third.get("notes").get(0).asText());
    assertTrue(r.err().contains("is not in --endpoints"), r.err());
  }

  private static void collect(CommandLine c, List<String> path, List<List<String>> out) {
    for (var e : c.getSubcommands().entrySet()) {
      if (e.getKey().equals("help")) {
        continue;
      }
      List<String> p = new ArrayList<>(path);
      p.add(e.getKey());
      out.add(p);
      collect(e.getValue(), p, out);
    }
  }

  /**
   * A command that exits and leaves work running in the background: that work is stopped before
   * the lock is released, or the next holder would start while it still writes.
   */
  @Test
  void processesACommandLeavesRunningAreStoppedBeforeItsLockGoes() throws Exception {
    Path pidFile = dir.resolve("left-" + System.nanoTime() + ".pid");
    Path late = dir.resolve("late-" + System.nanoTime());
    Run r = cli("lock", "run", "leftover/x", "--grace", "2s", "--", "sh", "-c",
        "(sleep 30; touch " + late + ") & echo $! > " + pidFile + "; sleep 1; exit 0");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.err().contains("left") && r.err().contains("process(es) running"), r.err());
    long background = Long.parseLong(Files.readString(pidFile).trim());
    assertFalse(ProcessHandle.of(background).map(ProcessHandle::isAlive).orElse(false),
        "the background work was stopped");
    assertEquals("FREE", lock("leftover/x").get("state").asText());
    assertFalse(Files.exists(late));
  }

  @Test
  void aStoppedLockRunLetsItsLockGoAtOnceAndAWatchEndsWithItsReader() throws Exception {
    // SIGTERM (Ctrl-C, systemctl stop): the command stops and the lock goes back cleanly, not held
    // until the 30 s TTL runs out and then orphaned for the 20 s lock-delay.
    // The command is a shell with work of its own in the background: that must stop too before the
    // lock goes, or the next holder would start while it still runs.
    Path pidFile = dir.resolve("background-" + System.nanoTime() + ".pid");
    Process run = spawn("lock", "run", "stopping/x", "--endpoints", endpoints, "--ttl", "30s", "--lock-delay",
        "20s", "--", "sh", "-c", "sleep 120 & echo $! > " + pidFile + "; wait");
    try {
      awaitState("stopping/x", "HELD", Duration.ofSeconds(30));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!(Files.exists(pidFile) && Files.size(pidFile) > 0) && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      long background = Long.parseLong(Files.readString(pidFile).trim());
      run.destroy();
      assertTrue(run.waitFor(20, TimeUnit.SECONDS), "lock run stopped");
      assertEquals("FREE", awaitState("stopping/x", "FREE", Duration.ofSeconds(5)).get("state").asText());
      assertFalse(ProcessHandle.of(background).map(ProcessHandle::isAlive).orElse(false),
          "the command's background work was stopped before the lock went");
    } finally {
      killTree(run);
    }

    // `holdfast watch ... | head -1`: once its reader has gone, the next event ends the command.
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process watch = new ProcessBuilder(javaBin, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), HoldfastCli.class.getName(), "watch", "piped/", "--endpoints",
        endpoints).redirectError(dir.resolve("watch-" + System.nanoTime() + ".log").toFile()).start();
    try {
      assertEquals(0, cli("kv", "put", "piped/x.conf", "--value", "v1").code());
      var reader = new java.io.BufferedReader(new java.io.InputStreamReader(watch.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
      String first = reader.readLine();
      assertTrue(first != null && first.contains("piped/x.conf"), String.valueOf(first));
      watch.getInputStream().close();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      for (int i = 2; watch.isAlive() && System.nanoTime() < end; i++) {
        cli("kv", "put", "piped/x.conf", "--value", "v" + i);
        watch.waitFor(500, TimeUnit.MILLISECONDS);
      }
      assertTrue(!watch.isAlive(), "watch still runs with nobody reading it");
    } finally {
      killTree(watch);
    }
  }

  @Test
  void auditFollowPrintsOnlyWhatIsNewerThanSince() throws Exception {
    // An entry older than --since: a revoke of a lock held by a session of this test.
    try (HoldfastClient client = HoldfastClient.builder().endpoints(cluster.endpoints()).build();
         Session s = client.newSession(Duration.ofSeconds(30))) {
      s.tryLock("audited/x").orElseThrow();
      assertEquals(0, cli("revoke", "audited/x", "--reason", "old news").code());
    }
    Thread.sleep(2_000);
    StringWriter out = new StringWriter();
    CommandLine cl = HoldfastCli.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(new StringWriter(), true));
    Thread follower = new Thread(() -> cl.execute("audit", "--endpoints", endpoints, "--since", "1s", "--follow",
        "--lock", "audited/x"));
    follower.setDaemon(true);
    follower.start();
    Thread.sleep(3_000);
    follower.interrupt();
    follower.join(10_000);
    assertTrue(!out.toString().contains("old news"), out.toString());
  }

  /** More entries in --since's time than --limit shows: the newest are shown, and the rest are said to exist. */
  @Test
  void auditSinceSaysWhenItShowsOnlyPartOfThatTime() throws Exception {
    try (HoldfastClient client = HoldfastClient.builder().endpoints(cluster.endpoints()).build();
         Session s = client.newSession(Duration.ofSeconds(30))) {
      for (int i = 1; i <= 4; i++) {
        s.tryLock("audit-many/x").orElseThrow();
        assertEquals(0, cli("revoke", "audit-many/x", "--reason", "burst " + i).code());
      }
    }
    Run r = cli("audit", "--lock", "audit-many/x", "--since", "1h", "--limit", "2", "-o", "json");
    assertEquals(0, r.code(), r.toString());
    JsonNode shown = JSON.readTree(r.out());
    assertEquals(2, shown.size(), r.out());
    assertEquals("burst 3", shown.get(0).get("reason").asText());
    assertEquals("burst 4", shown.get(1).get("reason").asText());
    assertTrue(r.err().contains("4 entries in the last ") && r.err().contains("; showing the newest 2 (--limit 4 shows "
        + "them all)"), r.err());

    Run all = cli("audit", "--lock", "audit-many/x", "--since", "1h", "--limit", "4", "-o", "json");
    assertEquals(4, JSON.readTree(all.out()).size(), all.out());
    assertTrue(all.err().isEmpty(), all.err());
    assertEquals(2, cli("audit", "--limit", "1001").code());
  }

  /** `holdfast audit -f -o json | grep -m1 ...`: one compact object per line, and it ends once its reader has gone. */
  @Test
  void auditFollowPrintsAnObjectPerLineAndEndsWithItsReader() throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process follow = new ProcessBuilder(javaBin, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), HoldfastCli.class.getName(), "audit", "--follow", "-o", "json",
        "--lock", "audit-piped/x", "--endpoints", endpoints)
        .redirectError(dir.resolve("audit-" + System.nanoTime() + ".log").toFile()).start();
    try (HoldfastClient client = HoldfastClient.builder().endpoints(cluster.endpoints()).build();
         Session s = client.newSession(Duration.ofSeconds(30))) {
      Thread.sleep(2_000); // its first read is done: what follows is new
      s.tryLock("audit-piped/x").orElseThrow();
      assertEquals(0, cli("revoke", "audit-piped/x", "--reason", "piped").code());
      var reader = new java.io.BufferedReader(new java.io.InputStreamReader(follow.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
      String line = reader.readLine();
      assertTrue(line != null && line.startsWith("{") && line.endsWith("}") && line.contains("piped"), line);
      assertEquals("piped", JSON.readTree(line).get("reason").asText(), line);
      follow.getInputStream().close();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (follow.isAlive() && System.nanoTime() < end) {
        s.tryLock("audit-piped/x").orElseThrow();
        cli("revoke", "audit-piped/x", "--reason", "piped again");
        follow.waitFor(1_500, TimeUnit.MILLISECONDS);
      }
      assertTrue(!follow.isAlive(), "audit --follow still runs with nobody reading it");
    } finally {
      killTree(follow);
    }
  }

  static JsonNode awaitState(String name, String state, Duration timeout) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    while (System.nanoTime() < end) {
      last = lock(name);
      if (last.get("state").asText().equals(state)) {
        return last;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("lock " + name + " never became " + state + "; last: " + last);
  }

  static {
    // The spawned CLIs write their logs next to the test's data.
    new File(System.getProperty("java.io.tmpdir")).mkdirs();
  }
}
