"""The app's example inputs, all written for seqzoo (none is taken from a dataset)."""

SENTIMENT_EXAMPLES = [
    "a gorgeous , witty , seductive movie .",
    "the plot is not bad at all , but the acting is painfully dull .",
    "I expected a boring film , yet it turned out to be one of the best of the year .",
    "an unfunny , overlong mess .",
]
# Long reviews, near an IMDB review's length (about 270 words as the models read them), for the IMDB models.
REVIEW_EXAMPLES = [
    "I went in expecting very little from this film. The trailer made it look like a thousand other "
    "family dramas, and the first ten minutes, with the slow drive through the countryside and the long "
    "conversation in the kitchen, did nothing to change my mind. But then the story opens up. The two "
    "sisters, who have not spoken in years, are forced to spend a summer together in their late father's "
    "house, and every scene between them feels honest. Nobody gives a speech; they argue about the dishes, "
    "about the garden, about who kept his letters, and slowly you understand what happened between them. "
    "The lead actress is remarkable: she says more with a look across the table than most actors manage "
    "with a page of dialogue. The photography is simple and warm, and the music never tells you what to "
    "feel. There are a few scenes in the middle that could have been cut, and the subplot about the "
    "neighbour goes nowhere, but these are small complaints. By the end I was completely won over, and "
    "I was not the only one in the theatre wiping my eyes. A quiet, beautiful, deeply moving film that "
    "I will happily watch again.",
    "This is one of those films that starts with a good idea and then has no idea what to do with it. "
    "A group of friends rent a cabin in the mountains, a storm cuts them off, and one of them goes "
    "missing during the night. That could have made a tense little thriller. Instead we get ninety "
    "minutes of characters walking from room to room explaining the plot to each other. The dialogue is "
    "flat, the jokes fall dead, and the big twist can be seen coming from the opening credits. Two of the "
    "actors clearly tried, and the cabin itself looks great, but the script gives them nothing to work "
    "with. The editing is strange too: scenes end in the middle of a sentence and start again somewhere "
    "else with no sense of time. By the last half hour I had stopped caring who was behind it all and was "
    "simply waiting for it to end. The final scene, which is supposed to be shocking, made half the "
    "audience laugh. I cannot recommend it; it is a dull, clumsy, forgettable waste of a good cast.",
]
# The "Why the cell" tab's sentence: praise first, the verdict last. The trained LSTMs answer it right
# (negative); the LSTM's cell never forgetting (forget=1) keeps the early praise and answers positive
# (tests/test_app_claims.py). The earlier default, "it is not a bad movie , in fact it is rather good .",
# was answered wrong by the real cell, so every switch's row read against a wrong answer.
WHY_EXAMPLE = "the cast is great and the songs are fun , but the film is too long and boring ."
# CoNLL-2003 validation: the name comes first and only the words after it say it is a person
RIGHT_EXAMPLE = "Cunningham has already been signed as a broadcaster ."
NER_EXAMPLES = [
    "EU rejects German call to boycott British lamb .",
    "Peter Blackburn of the European Commission met Angela Merkel in Brussels on Monday .",
    "Samsung Electronics opened a new office in Seoul , South Korea .",
    "Lionel Messi scored twice as Barcelona beat Real Madrid in the Spanish league .",
]
# 80 words as tasks.text.tokenize counts them (the memory view reads 80): a clear verdict first, then a long stretch that says little.
MEMORY_EXAMPLE = (
    "A wonderful, moving film with a brilliant cast. The story follows a teacher who moves to a town "
    "in the north, where she lives with her brother and his two children. Most of the scenes take place in "
    "their house, at the school and at the train station. The film was shot in the spring, in three cities "
    "and two villages. It has four chapters, each named after a month."
)
