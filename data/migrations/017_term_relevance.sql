-- How sure the model is that a mention is about each watched entity it names: for each entry
-- of `terms`, a probability (nlp.relevance), learned per watch from the "not about us" / "about
-- us" corrections. Empty for scores made before, or when the context rules alone decided.
ALTER TABLE scores ADD COLUMN term_relevance DOUBLE[] DEFAULT [];
