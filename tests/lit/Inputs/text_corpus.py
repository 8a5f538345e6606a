"""text_corpus.py FILE BYTES SEED — writes BYTES of English-like text made of
a few dozen words in short sentences, then prints the unigram entropy of its
bytes in nats: the loss of the best model that ignores context."""
import math
import random
import sys
from collections import Counter

path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
subjects = ["the cat", "a dog", "my friend", "the old man", "her sister", "our teacher", "the bird"]
verbs = ["sees", "likes", "finds", "draws", "remembers", "wants", "builds"]
objects = ["a red ball", "the river", "some bread", "a small house", "the green door", "two apples"]
text = ""
while len(text) < size:
    s = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
    text += s[0].upper() + s[1:] + (". " if rng.random() < 0.8 else ".\n")
text = text[:size]
open(path, "w").write(text)
counts = Counter(text.encode())
n = sum(counts.values())
print(f"{-sum(c / n * math.log(c / n) for c in counts.values()):.6f}")
