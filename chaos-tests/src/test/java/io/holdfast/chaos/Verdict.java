package io.holdfast.chaos;

import java.util.List;

/** A checker's answer: valid or not, the problems found (capped), and a one-line note. */
public record Verdict(String checker, boolean valid, List<String> problems, String note) {
  public Verdict {
    problems = List.copyOf(problems.size() > Problems.KEPT + 1 ? problems.subList(0, Problems.KEPT + 1) : problems);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder(checker).append(": ").append(valid ? "VALID" : "INVALID");
    if (!note.isEmpty()) {
      b.append(" (").append(note).append(')');
    }
    for (String p : problems) {
      b.append("\n    - ").append(p);
    }
    return b.toString();
  }
}
