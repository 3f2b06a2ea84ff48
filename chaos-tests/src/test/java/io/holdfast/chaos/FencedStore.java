package io.holdfast.chaos;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The resource the workers protect with their locks, served from the harness JVM over HTTP on
 * loopback (a port picked free). Two stores side by side:
 *
 * <ul>
 *   <li>{@code /write/fenced}: refuses a write whose token is lower than the highest it accepted for
 *       the key (answers 409), as a fenced resource must;
 *   <li>{@code /write/unfenced}: the canary; accepts everything (answers 200).
 * </ul>
 *
 * Query: {@code key, token, writer, value}. Every decision goes into the history as
 * {@code proc:"store", f:"store-write"} with a sequence number, in the order it was made.
 */
public final class FencedStore implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
    Thread t = new Thread(r, "fenced-store");
    t.setDaemon(true);
    return t;
  });
  private final History history;
  private final Map<String, Long> highestFenced = new HashMap<>();
  private long seq;

  public FencedStore(History history) {
    this.history = history;
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.createContext("/write/fenced", ex -> handle(ex, true));
    server.createContext("/write/unfenced", ex -> handle(ex, false));
    server.setExecutor(executor);
    server.start();
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private static Map<String, String> query(HttpExchange ex) {
    Map<String, String> q = new HashMap<>();
    String raw = ex.getRequestURI().getRawQuery();
    if (raw != null) {
      for (String part : raw.split("&")) {
        int eq = part.indexOf('=');
        if (eq > 0) {
          q.put(URLDecoder.decode(part.substring(0, eq), StandardCharsets.UTF_8),
              URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return q;
  }

  private void handle(HttpExchange ex, boolean fenced) throws IOException {
    int status;
    String body;
    try {
      Map<String, String> q = query(ex);
      String key = q.get("key");
      long token = Long.parseLong(q.get("token"));
      boolean accepted = decide(fenced, key, token, q.get("writer"), q.getOrDefault("value", ""));
      status = accepted ? 200 : 409;
      body = accepted ? "accepted" : "refused";
    } catch (RuntimeException e) {
      status = 400;
      body = "bad request: " + e;
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Decides one write and records the decision; visible for the store's own test. */
  synchronized boolean decide(boolean fenced, String key, long token, String writer, String value) {
    boolean accepted = true;
    if (fenced) {
      Long highest = highestFenced.get(key);
      accepted = highest == null || token >= highest;
      if (accepted) {
        highestFenced.put(key, token);
      }
    }
    Map<String, Object> v = new LinkedHashMap<>();
    v.put("store", fenced ? "fenced" : "unfenced");
    v.put("seq", ++seq);
    v.put("writer", writer);
    v.put("token", token);
    v.put("value", value);
    v.put("accepted", accepted);
    history.add(new Op(System.nanoTime(), "store", "info", "store-write", key, v));
    return accepted;
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
