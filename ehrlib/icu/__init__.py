"""The synthetic ICU study's data side: the generator, the benchmark-layout writer and reader, and the
figures and descriptions of chapters 01-02. Nothing here knows a model."""
