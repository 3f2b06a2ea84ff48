package io.holdfast.chaos;

import java.util.ArrayList;
import java.util.List;

/**
 * A checker's problems: the first {@link #KEPT} in full, the rest only counted. A badly broken
 * build fails nearly every check of a long run, and kept whole those messages once ran the
 * checkers out of heap before any verdict was printed.
 */
final class Problems {
  static final int KEPT = 20;
  private final List<String> kept = new ArrayList<>();
  private long more;

  Problems() {}

  Problems(List<String> first) {
    first.forEach(this::add);
  }

  void add(String problem) {
    if (kept.size() < KEPT) {
      kept.add(problem);
    } else {
      more++;
    }
  }

  boolean isEmpty() {
    return kept.isEmpty();
  }

  /** The problems kept, and a last line saying how many more were found, if any. */
  List<String> list() {
    List<String> out = new ArrayList<>(kept);
    if (more > 0) {
      out.add("... and " + more + " more");
    }
    return out;
  }
}
