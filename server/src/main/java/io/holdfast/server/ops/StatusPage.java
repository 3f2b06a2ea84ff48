package io.holdfast.server.ops;

import io.holdfast.server.config.PeerConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.AuditEntry;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LockRecord;
import io.holdfast.server.state.SessionRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The operator's read-only status page: {@code /} is a static page from the jar that polls
 * {@code /api/overview} (this node's local state, no Raft round trip, so it costs the cluster
 * nothing) and renders every value as text.
 */
final class StatusPage {
  static final int MAX_LOCKS = 500;
  static final int AUDIT_ENTRIES = 20;

  private final byte[] html;
  private final ServerConfig config;
  private final RaftNode raft;

  StatusPage(ServerConfig config, RaftNode raft) {
    this.config = config;
    this.raft = raft;
    try (InputStream in = StatusPage.class.getResourceAsStream("/holdfast/status.html")) {
      html = in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  byte[] html() {
    return html;
  }

  private List<RaftNode.Member> members() {
    try {
      return raft.members();
    } catch (RuntimeException e) {
      List<RaftNode.Member> out = new java.util.ArrayList<>();
      for (PeerConfig p : config.peers()) {
        out.add(new RaftNode.Member(p.id(), p.peerAddress().toString(), p.clientAddress().toString()));
      }
      return out;
    }
  }

  String overview() {
    String leader = raft.leaderIdOrNull();
    StringBuilder j = new StringBuilder(4096);
    j.append("{\"member\":").append(str(raft.nodeId())).append(",\"role\":").append(str(raft.role()))
        .append(",\"leader\":").append(leader == null ? "null" : str(leader)).append(",\"term\":").append(raft.term())
        .append(",\"applied_index\":").append(raft.appliedIndex()).append(",\"members\":[");
    // The replicated configuration's members (this node's config file knows only the first ones).
    List<RaftNode.Member> peers = members();
    for (int i = 0; i < peers.size(); i++) {
      j.append(i == 0 ? "" : ",").append("{\"id\":").append(str(peers.get(i).id())).append(",\"client\":")
          .append(str(peers.get(i).clientAddress())).append('}');
    }
    j.append("],");
    raft.stateMachine().read(s -> {
      appendLocks(j, s);
      appendAudit(j, s);
      return null;
    });
    j.append("\"now_ms\":").append(System.currentTimeMillis()).append('}');
    return j.toString();
  }

  private static void appendLocks(StringBuilder j, HoldfastState s) {
    long now = s.clock().wallMs();
    j.append("\"locks\":[");
    int n = 0;
    for (LockRecord l : s.locks("")) {
      if (n++ >= MAX_LOCKS) {
        break;
      }
      j.append(n == 1 ? "" : ",").append("{\"name\":").append(str(l.name())).append(",\"token\":").append(l.token())
          .append(",\"waiters\":").append(count(l.waiters()));
      if (l.isHeld()) {
        SessionRecord h = s.session(l.holderSessionId());
        j.append(",\"state\":\"HELD\",\"holder\":").append(holder(l.holderSessionId(), h == null ? null : h.client()))
            .append(",\"held_for_ms\":").append(Math.max(0, now - l.acquiredAtMs()))
            .append(",\"ttl_left_ms\":").append(s.ttlLeftMs(l.holderSessionId()));
      } else if (l.isOrphaned()) {
        j.append(",\"state\":\"ORPHANED\",\"former_holder\":").append(holder(l.formerHolderSessionId(), l.formerHolder()))
            .append(",\"freed_for_ms\":").append(Math.max(0, now - l.freedAtMs()))
            .append(",\"grantable_in_ms\":").append(Math.max(0, l.grantableAtClockMs() - s.clock().elapsedMs()));
      } else {
        j.append(",\"state\":\"FREE\"");
      }
      j.append('}');
    }
    j.append("],");
  }

  private static void appendAudit(StringBuilder j, HoldfastState s) {
    j.append("\"audit\":[");
    List<AuditEntry> entries = s.audit(0, "", AUDIT_ENTRIES);
    for (int i = entries.size() - 1; i >= 0; i--) {
      AuditEntry a = entries.get(i);
      j.append(i == entries.size() - 1 ? "" : ",").append("{\"index\":").append(a.index()).append(",\"time_ms\":")
          .append(a.wallMs()).append(",\"kind\":").append(str(a.kind().name())).append(",\"lock\":")
          .append(str(a.lockName().isEmpty() ? String.join(",", a.locks()) : a.lockName())).append(",\"holder\":")
          .append(holder(a.sessionId(), a.client())).append(",\"token\":").append(a.token())
          .append(",\"requested_by\":").append(str(a.requestedBy())).append(",\"reason\":").append(str(a.reason()))
          .append('}');
    }
    j.append("],");
  }

  private static int count(Iterable<?> it) {
    int n = 0;
    for (Object o : it) {
      n++;
    }
    return n;
  }

  private static String holder(long session, ClientInfo c) {
    ClientInfo ci = c == null ? ClientInfo.UNKNOWN : c;
    return "{\"session\":" + session + ",\"identity\":" + str(ci.principal()) + ",\"client\":" + str(ci.name())
        + ",\"host\":" + str(ci.host()) + ",\"pid\":" + ci.pid() + "}";
  }

  /** A JSON string literal: quotes, backslashes and control characters escaped. */
  static String str(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029' || c == '<' || c == '>') {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
