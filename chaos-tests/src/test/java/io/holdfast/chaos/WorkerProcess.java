package io.holdfast.chaos;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The harness's handle on one {@link ChaosWorker} JVM: started with this test's classpath; its
 * stdout history lines go into the run's {@link History} as they arrive, its stderr to a log file.
 * It can be paused (SIGSTOP) and resumed (SIGCONT); only this process is ever signalled.
 */
public final class WorkerProcess implements AutoCloseable {
  private final String proc;
  private final Process process;
  private final History history;
  private final Thread reader;
  private final AtomicReference<CompletableFuture<Op>> pauseOnGrant = new AtomicReference<>();
  private volatile boolean paused;

  private WorkerProcess(String proc, Process process, History history) {
    this.proc = proc;
    this.process = process;
    this.history = history;
    this.reader = new Thread(this::read, "reader-" + proc);
    reader.setDaemon(true);
    reader.start();
  }

  public static WorkerProcess start(String proc, History history, Path log, List<String> args) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new java.util.ArrayList<>(List.of(java, "-Xmx128m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), ChaosWorker.class.getName()));
    cmd.addAll(args);
    try {
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
      return new WorkerProcess(proc, p, history);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void read() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (!line.startsWith("{")) {
          continue;
        }
        Op op;
        try {
          op = Op.parse(line);
        } catch (RuntimeException e) {
          continue; // a torn line from a kill; nothing to record
        }
        if (op.is("ok", "acquire")) {
          CompletableFuture<Op> armed = pauseOnGrant.getAndSet(null);
          if (armed != null) {
            // Stop it while it holds the lock, before its write: the paused-holder case.
            pause();
            armed.complete(op);
          }
        }
        history.add(op);
      }
    } catch (IOException ignored) {
      // process gone
    }
  }

  public String proc() {
    return proc;
  }

  public long pid() {
    return process.pid();
  }

  /** The next ok acquire this worker reports will SIGSTOP it at once; the future gives that grant. */
  public CompletableFuture<Op> pauseOnNextGrant() {
    CompletableFuture<Op> f = new CompletableFuture<>();
    pauseOnGrant.set(f);
    return f;
  }

  /** Disarms {@link #pauseOnNextGrant}; true if it had not fired. */
  public boolean disarm() {
    return pauseOnGrant.getAndSet(null) != null;
  }

  public synchronized void pause() {
    signal("STOP");
    paused = true;
  }

  public synchronized void resume() {
    if (paused) {
      signal("CONT");
      paused = false;
    }
  }

  public boolean isPaused() {
    return paused;
  }

  private void signal(String sig) {
    if (!process.isAlive()) {
      return;
    }
    try {
      new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start().waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Asks the worker to finish its current operation, close its session and exit. */
  public void requestStop() {
    resume();
    try {
      Writer w = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
      w.write("stop\n");
      w.flush();
      w.close();
    } catch (IOException ignored) {
      // already gone
    }
  }

  /** Waits for the worker to exit; kills it (SIGKILL, this process only) if it does not. */
  public boolean awaitExit(long millis) throws InterruptedException {
    boolean clean = process.waitFor(millis, TimeUnit.MILLISECONDS);
    if (!clean) {
      process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
    reader.join(5_000);
    return clean;
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      resume();
      process.destroyForcibly();
      try {
        process.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
