package io.holdfast.ops.cli;

import io.holdfast.client.AuditRecord;
import io.holdfast.client.LockDescription;
import io.holdfast.client.SessionDescription;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How locks, sessions and audit entries look in tables and in JSON. The JSON field names are a
 * stable interface for scripts: fields are added, never renamed or removed.
 */
final class Rendering {
  static final List<String> LOCK_HEADER =
      List.of("NAME", "STATE", "HOLDER", "SESSION", "TOKEN", "HELD FOR", "TTL LEFT", "WAITERS");
  static final List<String> SESSION_HEADER =
      List.of("ID", "IDENTITY", "CLIENT", "HOST", "PID", "TTL", "TTL LEFT", "LOCKS", "WAITING", "KEY");
  static final List<String> AUDIT_HEADER =
      List.of("INDEX", "TIME", "KIND", "LOCK", "SESSION", "HOLDER", "TOKEN", "BY", "REASON");

  private static final com.fasterxml.jackson.databind.ObjectMapper COMPACT =
      new com.fasterxml.jackson.databind.ObjectMapper();

  private Rendering() {}

  /** A time for JSON: ISO-8601, or JSON null when the cluster gave none (never the string "null"). */
  static String time(java.time.Instant t) {
    return t == null ? null : t.toString();
  }

  /** One JSON object on one line, for streams. */
  static String compactJson(Object value) {
    try {
      return COMPACT.writeValueAsString(value);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static String who(String name, String host, long pid) {
    return (name == null || name.isEmpty() ? "?" : name) + "@" + (host == null || host.isEmpty() ? "?" : host)
        + " pid " + pid;
  }

  static String since(Instant t) {
    return t == null ? "-" : Durations.format(Duration.between(t, Instant.now()));
  }

  static List<String> lockRow(LockDescription l) {
    return switch (l.state()) {
      case HELD -> List.of(l.name(), "HELD", who(l.holderName(), l.holderHost(), l.holderPid()),
          Long.toString(l.holderSessionId()), Long.toString(l.token()), since(l.acquiredAt()),
          Durations.format(l.holderTtlLeft()), Integer.toString(l.waiters().size()));
      case ORPHANED -> List.of(l.name(), "ORPHANED", "was " + who(l.formerHolderName(), l.formerHolderHost(),
              l.formerHolderPid()), Long.toString(l.formerHolderSessionId()), Long.toString(l.token()),
          "freed " + since(l.freedAt()) + " ago", "grantable in " + Durations.format(l.grantableIn()),
          Integer.toString(l.waiters().size()));
      default -> List.of(l.name(), "FREE", "-", "-", l.token() == 0 ? "-" : Long.toString(l.token()), "-", "-",
          Integer.toString(l.waiters().size()));
    };
  }

  static Map<String, Object> lockJson(LockDescription l) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", l.name());
    m.put("state", l.state().name());
    m.put("token", l.token());
    if (l.state() == LockDescription.State.HELD) {
      Map<String, Object> h = new LinkedHashMap<>();
      h.put("session_id", l.holderSessionId());
      h.put("identity", l.holderIdentity());
      h.put("client", l.holderName());
      h.put("host", l.holderHost());
      h.put("pid", l.holderPid());
      h.put("labels", l.holderLabels());
      m.put("holder", h);
      m.put("acquired_at", time(l.acquiredAt()));
      m.put("held_for_ms", l.acquiredAt() == null ? 0 : Duration.between(l.acquiredAt(), Instant.now()).toMillis());
      m.put("ttl_left_ms", l.holderTtlLeft().toMillis());
    }
    if (l.state() == LockDescription.State.ORPHANED) {
      Map<String, Object> f = new LinkedHashMap<>();
      f.put("session_id", l.formerHolderSessionId());
      f.put("client", l.formerHolderName());
      f.put("host", l.formerHolderHost());
      f.put("pid", l.formerHolderPid());
      m.put("former_holder", f);
      m.put("freed_at", time(l.freedAt()));
      m.put("free_reason", l.freeReason());
      m.put("grantable_in_ms", l.grantableIn().toMillis());
    }
    m.put("lock_delay_ms", l.lockDelay().toMillis());
    m.put("max_hold_ms", l.maxHold().toMillis());
    List<Map<String, Object>> waiters = new ArrayList<>();
    for (LockDescription.Waiter w : l.waiters()) {
      Map<String, Object> wm = new LinkedHashMap<>();
      wm.put("session_id", w.sessionId());
      wm.put("client", w.clientName());
      wm.put("host", w.host());
      wm.put("pid", w.pid());
      wm.put("queued_at", time(w.queuedAt()));
      waiters.add(wm);
    }
    m.put("waiters", waiters);
    return m;
  }

  static List<String> sessionRow(SessionDescription s) {
    return List.of(Long.toString(s.id()), s.identity().isEmpty() ? "-" : s.identity(), s.clientName(), s.host(), Long.toString(s.pid()), Durations.format(s.ttl()),
        Durations.format(s.ttlLeft()), String.join(",", s.heldLocks()), String.join(",", s.waitingOn()),
        s.exclusiveKey());
  }

  static Map<String, Object> sessionJson(SessionDescription s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("session_id", s.id());
    m.put("identity", s.identity());
    m.put("client", s.clientName());
    m.put("host", s.host());
    m.put("pid", s.pid());
    m.put("labels", s.labels());
    m.put("ttl_ms", s.ttl().toMillis());
    m.put("ttl_left_ms", s.ttlLeft().toMillis());
    m.put("created_at", time(s.createdAt()));
    m.put("renewed_at", time(s.renewedAt()));
    m.put("held_locks", s.heldLocks());
    m.put("waiting_on", s.waitingOn());
    m.put("exclusive_key", s.exclusiveKey());
    return m;
  }

  static List<String> auditRow(AuditRecord a) {
    return List.of(Long.toString(a.index()), a.time() == null ? "-" : a.time().toString(), a.kind(),
        a.lockName().isEmpty() ? String.join(",", a.locks())
            + (a.locksNotListed() > 0 ? " (+" + a.locksNotListed() + " more)" : "") : a.lockName(),
        Long.toString(a.sessionId()),
        who(a.clientName(), a.host(), a.pid()), a.token() == 0 ? "-" : Long.toString(a.token()),
        a.requestedBy().isEmpty() ? "(cluster)" : a.requestedBy(), a.reason());
  }

  static Map<String, Object> auditJson(AuditRecord a) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("index", a.index());
    m.put("time", time(a.time()));
    m.put("kind", a.kind());
    m.put("lock", a.lockName());
    m.put("locks", a.locks());
    m.put("locks_not_listed", a.locksNotListed());
    m.put("session_id", a.sessionId());
    m.put("client", a.clientName());
    m.put("host", a.host());
    m.put("pid", a.pid());
    m.put("token", a.token());
    m.put("reason", a.reason());
    m.put("requested_by", a.requestedBy());
    m.put("successor_session_id", a.successorSessionId());
    return m;
  }
}
