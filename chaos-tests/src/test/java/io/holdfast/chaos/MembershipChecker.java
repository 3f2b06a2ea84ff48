package io.holdfast.chaos;

import java.util.ArrayList;
import java.util.List;

/**
 * Member swaps: a change the cluster refused outright (FAILED_PRECONDITION) is a failure, since the
 * nemesis only adds fresh nodes of this build and removes current members. A change that could
 * not be made for want of a leader, or in time, is the fault's own doing and only counted.
 */
public final class MembershipChecker {
  private MembershipChecker() {}

  public static Verdict check(History history) {
    int added = 0;
    int removed = 0;
    int failed = 0;
    List<String> refused = new ArrayList<>();
    for (Op op : history.ops()) {
      if (!"nemesis".equals(op.proc())) {
        continue;
      }
      switch (op.f()) {
        case "member-added" -> added++;
        case "member-removed" -> removed++;
        case "member-add-failed", "member-remove-failed" -> {
          failed++;
          String error = String.valueOf(op.value().get("error"));
          if (error.startsWith("FAILED_PRECONDITION")) {
            refused.add(op.f() + " " + op.key() + ": " + error);
          }
        }
        default -> { }
      }
    }
    String note = added + " added, " + removed + " removed, " + failed + " not done";
    return new Verdict("membership", refused.isEmpty(), refused, note);
  }
}
