"""Policy ingestion: text extraction, structure-following chunking, embeddings, clause mapping.

Nothing is re-exported here on purpose: the submodules pull in numpy, tokenizers, pypdf or
python-docx lazily, and importing the package must stay cheap for the layer's cold start.
"""
