package io.holdfast.server.ops;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.testing.Heartbeat;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real headless browser (Debian's chromium, which .ci/run installs when
 * missing; skipped with a message where there is none): a held lock shows its holder and token,
 * a hostile client name shows as text, and an expiring holder's lock turns ORPHANED without a
 * reload.
 */
class StatusPageBrowserTest {
  @TempDir
  Path dir;

  static Path chromium() {
    for (String p : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser")) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }

  /** Reads chromium's output until it prints its DevTools address (host:port). */
  static String devtoolsAddress(Process p) throws Exception {
    var reader = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    Pattern addr = Pattern.compile("DevTools listening on ws://([^/]+)/");
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (String line; System.nanoTime() < end && (line = reader.readLine()) != null; ) {
      Matcher m = addr.matcher(line);
      if (m.find()) {
        Thread drain = new Thread(() -> {
          try {
            while (reader.readLine() != null) {
              // discard
            }
          } catch (java.io.IOException ignored) {
            // gone
          }
        });
        drain.setDaemon(true);
        drain.start();
        return m.group(1);
      }
    }
    throw new AssertionError("chromium printed no DevTools address");
  }

  /**
   * After {@code wait}, the locks table's HTML as the page shows it (DevTools Runtime.evaluate);
   * empty while the page is still loading.
   */
  static String locksTable(HttpClient http, String wsUrl, Duration wait) throws Exception {
    Thread.sleep(wait.toMillis());
    CompletableFuture<String> reply = new CompletableFuture<>();
    StringBuilder buf = new StringBuilder();
    WebSocket socket = http.newWebSocketBuilder().buildAsync(URI.create(wsUrl), new WebSocket.Listener() {
      @Override
      public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
        buf.append(data);
        if (last) {
          reply.complete(buf.toString());
        }
        w.request(1);
        return null;
      }
    }).get(10, TimeUnit.SECONDS);
    socket.sendText("{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":"
        + "\"document.getElementById('locks').innerHTML\",\"returnByValue\":true}}", true);
    String json = reply.get(10, TimeUnit.SECONDS);
    socket.abort();
    Matcher value = Pattern.compile("\"value\":\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
    if (!value.find()) {
      return ""; // the page has not loaded yet (the evaluation threw)
    }
    return value.group(1).replace("\\\"", "\"").replace("\\u003c", "<").replace("\\u003e", ">")
        .replace("\\u0026", "&");
  }

  /** Reads the locks table every 300 ms until {@code done} holds; the last table read otherwise. */
  static String awaitTable(HttpClient http, String wsUrl, Duration timeout, java.util.function.Predicate<String> done)
      throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    String table = locksTable(http, wsUrl, Duration.ZERO);
    while (!done.test(table) && System.nanoTime() < end) {
      table = locksTable(http, wsUrl, Duration.ofMillis(300));
    }
    return table;
  }

  static String row(String table, String lock) {
    int at = table.indexOf(">" + lock + "<");
    assertTrue(at >= 0, lock + " not in " + table);
    int end = table.indexOf("</tr>", at);
    return table.substring(at, end < 0 ? table.length() : end);
  }

  @Test
  void theStatusPageShowsHoldersAsTextAndFollowsExpiryWithoutAReload() throws Exception {
    Path browser = chromium();
    Assumptions.assumeTrue(browser != null, "chromium is not installed here: the browser test is skipped");
    try (ProcessCluster cluster = new ProcessCluster(1, dir.resolve("cluster")).start()) {
      cluster.awaitLeader(Duration.ofSeconds(60));
      var sessions = SessionServiceGrpc.newBlockingStub(cluster.channel(0));
      var locks = LockServiceGrpc.newBlockingStub(cluster.channel(0));
      long hostile = sessions.openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
          .setTtlMs(60_000).setClient(ClientIdentity.newBuilder().setName("<script>alert(1)</script>")
              .setHost("<img src=x onerror=alert(2)>").setPid(7)).build()).getSessionId();
      locks.acquire(AcquireRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setSessionId(hostile)
          .setLockName("web/held").build());
      // A holder that heartbeats until the page has shown it HELD, then falls silent.
      long dying = sessions.openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
          .setTtlMs(2_000).setClient(ClientIdentity.newBuilder().setName("node-7").setHost("h7").setPid(77)).build())
          .getSessionId();
      Heartbeat heartbeat = new Heartbeat(cluster.channel(0), dying, Duration.ofMillis(400));
      long token = locks.acquire(AcquireRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
          .setSessionId(dying).setLockName("web/dying").setLockDelayMs(60_000).build()).getToken();

      Process p = new ProcessBuilder(browser.toString(), "--headless", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update",
          "--disable-sync", "--user-data-dir=" + dir.resolve("profile"), "--remote-debugging-port=0", "about:blank")
          .redirectErrorStream(true).start();
      try {
        String devtools = devtoolsAddress(p);
        // Open the page in a new tab and keep it open: the test reads what it shows, twice.
        HttpClient http = HttpClient.newHttpClient();
        String tab = http.send(HttpRequest.newBuilder(URI.create("http://" + devtools + "/json/new?" + cluster.adminUrl(0)
            + "/")).PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher ws = Pattern.compile("\"webSocketDebuggerUrl\"\\s*:\\s*\"([^\"]+)\"").matcher(tab);
        assertTrue(ws.find(), tab);
        String first = awaitTable(http, ws.group(1), Duration.ofSeconds(20),
            t -> t.contains(">web/held<") && t.contains(">web/dying<"));
        assertTrue(first.contains("&lt;script&gt;alert(1)&lt;/script&gt;@&lt;img src=x onerror=alert(2)&gt;"),
            "the hostile names are text: " + first);
        assertFalse(first.contains("<script>") || first.contains("<img"), first);
        assertTrue(row(first, "web/dying").contains("HELD"), first);

        // node-7 stops heartbeating: within its TTL (2 s, + 4 s for the page's polling and the
        // leader's expiry) its lock turns ORPHANED, on the same page.
        heartbeat.close();
        String later = awaitTable(http, ws.group(1), Duration.ofSeconds(6), t -> row(t, "web/dying").contains("ORPHANED"));
        String dyingRow = row(later, "web/dying");
        assertTrue(dyingRow.contains("ORPHANED") && dyingRow.contains("node-7") && dyingRow.contains(Long.toString(token)),
            "the expired holder's lock turned ORPHANED without a reload: " + dyingRow);
      } finally {
        heartbeat.close();
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
