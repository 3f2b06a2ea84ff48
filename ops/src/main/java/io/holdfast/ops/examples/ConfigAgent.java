package io.holdfast.ops.examples;

import io.holdfast.client.FencingGuard;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.KeyValue;
import io.holdfast.client.Watch;
import io.holdfast.client.WatchEvent;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The config-file use case, agent side: watch the config key and apply a config only if its
 * fencing token is no older than the newest this agent has applied. Configs that arrive some other
 * way (pushed directly, replayed late) go through the same {@link #offer} check.
 */
public final class ConfigAgent implements AutoCloseable {
  /** What the agent did with one config. */
  public record Decision(long token, String config, boolean applied) {}

  private final FencingGuard guard;
  private final List<Decision> decisions = new CopyOnWriteArrayList<>();
  private final Watch watch;

  public ConfigAgent(HoldfastClient client, FencingGuard guard) {
    this.guard = guard;
    this.watch = client.watch(List.of(), List.of(ConfigOrchestrator.KEY), 0, batch -> {
      for (WatchEvent e : batch.events()) {
        if (e.kind() == WatchEvent.Kind.KEY_PUT && e.key().equals(ConfigOrchestrator.KEY)) {
          KeyValue kv = e.kv();
          offer(kv.fenceToken(), kv.valueAsString());
        }
      }
    });
  }

  /** Applies {@code config} if its token is admitted; returns whether it was. */
  public boolean offer(long token, String config) {
    boolean ok = token > 0 && guard.admit(ConfigOrchestrator.LOCK, token);
    decisions.add(new Decision(token, config, ok));
    return ok;
  }

  public List<Decision> decisions() {
    return List.copyOf(decisions);
  }

  /** The configs applied, in the order applied. */
  public List<Decision> applied() {
    return decisions.stream().filter(Decision::applied).toList();
  }

  @Override
  public void close() {
    watch.close();
  }
}
