package wordfreq

import (
	"reflect"
	"testing"
)

func TestCountsWordsCaseInsensitively(t *testing.T) {
	got := CountWords("The cat and the hat")
	want := map[string]int{"the": 2, "cat": 1, "and": 1, "hat": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountWords = %v, want %v", got, want)
	}
}

func TestKeepsApostrophes(t *testing.T) {
	got := CountWords("Don't stop, don't!")
	if got["don't"] != 2 || got["stop"] != 1 || len(got) != 2 {
		t.Errorf("CountWords = %v", got)
	}
}

func TestEmptyTextGivesEmptyMap(t *testing.T) {
	got := CountWords("  ... ")
	if got == nil || len(got) != 0 {
		t.Errorf("CountWords = %#v, want an empty map", got)
	}
}

func TestTopWordsOrder(t *testing.T) {
	got := TopWords("b a c b a b", 2)
	want := []WordCount{{"b", 3}, {"a", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TopWords = %v, want %v", got, want)
	}
}

func TestTopWordsTiesAlphabetical(t *testing.T) {
	got := TopWords("pear apple fig", 3)
	want := []WordCount{{"apple", 1}, {"fig", 1}, {"pear", 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TopWords = %v, want %v", got, want)
	}
}

func TestTopWordsNonPositive(t *testing.T) {
	if got := TopWords("a b", 0); len(got) != 0 {
		t.Errorf("TopWords(0) = %v", got)
	}
	if got := TopWords("a b", -1); len(got) != 0 {
		t.Errorf("TopWords(-1) = %v", got)
	}
}
