"""FHIR search: index extraction on write, query translation on read, one registry driving both.

Modules, in the order a search meets them:

- ``fhirpath``      search expressions compiled to fast path functions (fhirpathpy as fallback)
- ``encoders`` / ``encoders_ordered``   values -> index entries per parameter type (layout in ``fields``)
- ``text`` / ``dates`` / ``numbers``   the representations that make matching exact AND indexable:
                    string prefixes, date calendar units + bounds, precision-rounded number tokens
- ``indexer``       SearchIndexer: resource -> ``ix`` and ``comp`` (every write, ``$reindex``)
- ``indexes``       the MongoDB indexes of each ``resources.<Type>`` collection
- ``syntax`` / ``query``   parameters parsed and validated (strict, or lenient with warnings)
- ``translate`` / ``translate_ordered``   criteria -> clauses (indexed conditions + exact residuals)
- ``clauses``       clauses -> one filter, selective indexed conditions first
- ``resolver``      chains and ``_has`` as bounded indexed sub-queries (TooCostly beyond the bound)
- ``paging``        keyset pages, short opaque tokens, a snapshot cut-off
- ``includes``      ``_include`` / ``_revinclude`` from the stored index entries
- ``shaping``       ``_summary`` / ``_elements``
- ``service``       SearchService.search / find_ids, and the searchset Bundle (``bundle``)
- ``reindex``       re-extraction of stored resources after a SearchParameter was added

What is not served by an index lookup: ``:contains`` (an unanchored pattern over the stored entries:
a scan, by design), ``:not`` / ``ne`` / ``:missing`` (negations, checked on the candidates of the
other criteria), string queries longer than 24 characters (index on the first 24, pattern on the
rest), and the residual ``$elemMatch`` that pins a two-sided condition to ONE value of a
multi-valued field (``ge``/``le`` containment, ``ap``, unit-qualified quantity comparisons,
composites with a comparator); those residuals run only on documents the indexed conditions
already selected.
"""
