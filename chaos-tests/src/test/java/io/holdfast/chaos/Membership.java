package io.holdfast.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.TreeSet;

/**
 * Which of the cluster's node slots are voting members now. A run starts with slots
 * {@code 0 .. size-1}; a member swap adds a spare slot never used before (a fresh node id, as the
 * replace-node runbook asks) and retires a member, whose slot is never started again. Faults pick
 * their targets from {@link #current()}, so a run keeps working on whatever the cluster became.
 */
final class Membership {
  private final TreeSet<Integer> members = new TreeSet<>();
  private final int capacity;
  private int nextSpare;

  Membership(int size, int capacity) {
    for (int i = 0; i < size; i++) {
      members.add(i);
    }
    this.capacity = capacity;
    this.nextSpare = size;
  }

  /** The members' slots, ascending. */
  synchronized List<Integer> current() {
    return List.copyOf(members);
  }

  synchronized boolean contains(int slot) {
    return members.contains(slot);
  }

  /** A slot no node has used yet, taken for good; empty when all spares are spent. */
  synchronized OptionalInt takeSpare() {
    return nextSpare < capacity ? OptionalInt.of(nextSpare++) : OptionalInt.empty();
  }

  synchronized void added(int slot) {
    members.add(slot);
  }

  synchronized void removed(int slot) {
    members.remove(slot);
  }

  /** The slots used so far that are not members now: retired members, and spares whose add failed. */
  synchronized List<Integer> retired() {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < nextSpare; i++) {
      if (!members.contains(i)) {
        out.add(i);
      }
    }
    return out;
  }
}
