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

  /** The cluster's limit on lock names and keys (Names.MAX_LOCK_NAME on the server). */
  private static final int MAX_NAME = 256;
  private static final String ANNOUNCEMENT = "/leader";

  public RealElection(HoldfastClient client, String name) {
    // Checked here, not after a campaign has waited its turn and taken the lock: its announcement
    // key is the name and seven more characters.
    if (name != null && name.length() + ANNOUNCEMENT.length() > MAX_NAME) {
      throw new IllegalArgumentException("election name is " + name.length() + " characters long; the limit is "
          + (MAX_NAME - ANNOUNCEMENT.length()) + ", so that its announcement key '<name>" + ANNOUNCEMENT
          + "' is a valid key");
    }
    this.client = client;
    this.name = name;
    this.key = name + ANNOUNCEMENT;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Leadership campaign(Session session, String value) throws InterruptedException {
    // One session, one candidacy per election: a second campaign would be granted the same lock
    // grant, and two Leaderships on one grant overwrite each other's announcement, and the first
    // to resign clears it while the other still leads.
    RealSession.Candidacy candidacy = session instanceof RealSession rs ? rs.candidacy(name) : null;
    if (candidacy != null && !candidacy.begin()) {
      throw new IllegalStateException("session " + session.id() + " already campaigns in or leads election '" + name
          + "'; resign that Leadership first");
    }
    LockLease lease;
    try {
      lease = session.lock(name);
    } catch (InterruptedException | RuntimeException e) {
      endCandidacy(candidacy);
      throw e;
    }
    try {
      client.kv().putFenced(key, value.getBytes(StandardCharsets.UTF_8), lease);
    } catch (RuntimeException e) {
      lease.releaseAsync();
      endCandidacy(candidacy);
      throw e;
    }
    if (candidacy != null) {
      candidacy.leading(lease::isValid);
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

      /**
       * Releases the lock even when clearing the announcement failed; that failure is still thrown.
       * A second caller waits for the first: returned, it has stepped down.
       */
      @Override
      public synchronized void resign() {
        try {
          stepDown();
        } finally {
          endCandidacy(candidacy);
        }
      }

      private void stepDown() {
        if (!lease.isValid()) {
          try {
            lease.close(); // a lost lease sends nothing; it leaves the session's claims
          } catch (LockLostException lost) {
            // already not the leader
          }
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

  private static void endCandidacy(RealSession.Candidacy candidacy) {
    if (candidacy != null) {
      candidacy.end();
    }
  }

  @Override
  public Leader leader() {
    LockDescription lock = client.admin().lock(name);
    Optional<KeyValue> kv = client.kv().get(key);
    if (!lock.held() || kv.isEmpty() || kv.get().fenceToken() != lock.token() || !name.equals(kv.get().fenceLock())) {
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
