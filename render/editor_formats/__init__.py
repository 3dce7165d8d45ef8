"""Editor formats: each module parses one editor's timeline into a `render.composition.Composition`.

A second format is another module with a pydantic model of its timeline and a `build_composition`
function of the same shape as `react_timeline_editor.build_composition`.
"""
