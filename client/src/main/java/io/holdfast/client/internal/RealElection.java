package io.holdfast.client.internal;

import io.holdfast.client.Election;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.KeyValue;
import io.holdfast.client.Leader;
import io.holdfast.client.Leadership;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.LockLostException;
import io.holdfast.client.Session;
import io.holdfast.client.StaleTokenException;
import io.holdfast.client.Watch;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/** An election: the lock {@code name}, and the fenced announcement key {@code name/leader}. */
public final class RealElection implements Election {
  private final HoldfastClient client;
  private final String name;
  private final String key;

  public RealElection(HoldfastClient client, String name) {
    this.client = client;
    this.name = name;
    this.key = name + "/leader";
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Leadership campaign(Session session, String value) throws InterruptedException {
    LockLease lease = session.lock(name);
    try {
      client.kv().putFenced(key, value.getBytes(StandardCharsets.UTF_8), lease);
    } catch (RuntimeException e) {
      lease.releaseAsync();
      throw e;
    }
    return new Leadership() {
      @Override
      public String election() {
        return name;
      }

      @Override
      public long token() {
        return lease.token();
      }

      @Override
      public String value() {
        return value;
      }

      @Override
      public boolean isValid() {
        return lease.isValid();
      }

      /** Releases the lock even when clearing the announcement failed; that failure is still thrown. */
      @Override
      public void resign() {
        if (!lease.isValid()) {
          return;
        }
        RuntimeException failure = null;
        try {
          client.kv().deleteFenced(key, lease);
        } catch (StaleTokenException | LockLostException lost) {
          // already not the leader: the announcement is no longer this session's to clear
        } catch (RuntimeException e) {
          failure = e;
        }
        try {
          lease.close();
        } catch (LockLostException lost) {
          // already not the leader: nothing to step down from
        } catch (RuntimeException e) {
          if (failure == null) {
            failure = e;
          } else {
            failure.addSuppressed(e);
          }
        }
        if (failure != null) {
          throw failure;
        }
      }
    };
  }

  @Override
  public Leader leader() {
    LockDescription lock = client.admin().lock(name);
    Optional<KeyValue> kv = client.kv().get(key);
    if (!lock.held() || kv.isEmpty() || kv.get().fenceToken() != lock.token()) {
      return Leader.NONE; // between a grant and its announcement, or nobody leads
    }
    return new Leader(kv.get().valueAsString(), lock.token(), lock.holderSessionId());
  }

  @Override
  public Watch observe(Consumer<Leader> observer) {
    LeaderTracker tracker = new LeaderTracker(name, key);
    return client.watch(List.of(name), List.of(key), 0, batch -> tracker.onBatch(batch, observer));
  }
}
