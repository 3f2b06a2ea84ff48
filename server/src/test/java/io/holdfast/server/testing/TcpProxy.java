package io.holdfast.server.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback TCP proxy that a test can turn into a black hole (bytes in both directions are read
 * and dropped, new connections accepted and starved) or arm to cut a connection the moment its
 * next response starts, so that a request reaches the server but its answer never comes back, or
 * slow down every answer by a fixed delay (a leader whose commits take that long).
 */
public final class TcpProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final int targetPort;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean blackhole = new AtomicBoolean();
  private final AtomicBoolean cutNextResponse = new AtomicBoolean();
  private final AtomicInteger accepted = new AtomicInteger();
  private volatile long responseDelayNanos;
  private volatile boolean closed;

  public TcpProxy(int targetPort) {
    this.targetPort = targetPort;
    try {
      listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Thread t = new Thread(this::acceptLoop, "tcp-proxy-" + listener.getLocalPort());
    t.setDaemon(true);
    t.start();
  }

  public String endpoint() {
    return "127.0.0.1:" + listener.getLocalPort();
  }

  public int connectionsAccepted() {
    return accepted.get();
  }

  public void blackhole(boolean on) {
    blackhole.set(on);
  }

  /** Every byte the server sends reaches the client {@code delay} later (in order); zero: at once. */
  public void delayResponses(java.time.Duration delay) {
    responseDelayNanos = delay.toNanos();
  }

  /** The next bytes the server sends on any connection close that connection instead. */
  public void cutNextResponse() {
    cutNextResponse.set(true);
  }

  public boolean cutPending() {
    return cutNextResponse.get();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket client = listener.accept();
        accepted.incrementAndGet();
        Socket server = new Socket();
        server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 2_000);
        client.setTcpNoDelay(true);
        server.setTcpNoDelay(true);
        sockets.add(client);
        sockets.add(server);
        pump(client, server, false);
        pump(server, client, true);
      } catch (IOException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  private void pump(Socket from, Socket to, boolean response) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16 * 1024];
      DelayedWriter delayed = null;
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          if (blackhole.get()) {
            continue;
          }
          if (response && cutNextResponse.compareAndSet(true, false)) {
            break;
          }
          long delay = response ? responseDelayNanos : 0;
          if (delay > 0 || delayed != null) {
            // Once delayed, always through the queue: bytes must not overtake earlier ones.
            if (delayed == null) {
              delayed = new DelayedWriter(out, from, to);
            }
            delayed.add(System.nanoTime() + delay, java.util.Arrays.copyOf(buf, n));
            continue;
          }
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // connection closed
      } finally {
        if (delayed != null) {
          delayed.stop();
        }
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "tcp-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  /** Writes queued chunks, each at its due time, in order, on its own thread. */
  private final class DelayedWriter {
    private final java.util.concurrent.LinkedBlockingQueue<Chunk> queue = new java.util.concurrent.LinkedBlockingQueue<>();
    private final Thread writer;

    DelayedWriter(OutputStream out, Socket from, Socket to) {
      writer = new Thread(() -> {
        try {
          while (true) {
            Chunk chunk = queue.take();
            long wait = chunk.dueNanos() - System.nanoTime();
            if (wait > 0) {
              java.util.concurrent.TimeUnit.NANOSECONDS.sleep(wait);
            }
            out.write(chunk.bytes());
            out.flush();
          }
        } catch (IOException | InterruptedException e) {
          closeQuietly(from);
          closeQuietly(to);
        }
      }, "tcp-proxy-delay");
      writer.setDaemon(true);
      writer.start();
    }

    /** The connection is gone: what is still queued would go nowhere. */
    void stop() {
      writer.interrupt();
    }

    void add(long dueNanos, byte[] bytes) {
      queue.add(new Chunk(dueNanos, bytes));
    }
  }

  private record Chunk(long dueNanos, byte[] bytes) {}

  private void closeQuietly(Socket s) {
    sockets.remove(s);
    try {
      s.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException ignored) {
      // already closed
    }
    sockets.forEach(this::closeQuietly);
  }
}
