"""Catalog rules as stories: given events, when a command, then events or an error."""

from __future__ import annotations

from functools import reduce

import pytest
from pydantic import ValidationError

from domain.catalog import (
    AttachProduct,
    Category,
    CategoryCreated,
    CategoryDeleted,
    CategoryName,
    CategoryNameClaimed,
    CategoryNameReleased,
    CategoryRenamed,
    ClaimName,
    CreateCategory,
    CreateProduct,
    DeleteCategory,
    DeleteProduct,
    DetachProduct,
    Product,
    ProductAddedToCategory,
    ProductCreated,
    ProductDeleted,
    ProductMoved,
    ProductPriceChanged,
    ProductRemovedFromCategory,
    ProductRenamed,
    ReleaseName,
    RenameCategory,
    UpdateProduct,
)
from domain.errors import Conflict, ErrorCode, InvalidInput, NotFound


def given(aggregate, *events):
    return reduce(aggregate.evolve, events, aggregate.initial())


BOOKS = CategoryCreated(category_id="c1", name="Books")
NOVEL = ProductCreated(product_id="p1", name="Novel", price=1200, category_id="c1")


class TestCommandValidation:
    def test_names_are_trimmed(self):
        assert CreateCategory(category_id="c1", name="  Books \n").name == "Books"

    @pytest.mark.parametrize("name", ["", "   ", "x" * 201])
    def test_names_must_have_1_to_200_characters(self, name):
        with pytest.raises(ValidationError) as error:
            CreateCategory(category_id="c1", name=name)
        assert error.value.errors()[0]["loc"] == ("name",)

    def test_a_name_of_200_characters_is_fine(self):
        assert len(CreateCategory(category_id="c1", name="x" * 200).name) == 200

    @pytest.mark.parametrize("price", [0, 1, 100_000_000])
    def test_prices_within_range(self, price):
        assert CreateProduct(product_id="p", name="n", price=price, category_id="c").price == price

    @pytest.mark.parametrize("price", [-1, 100_000_001, 1.5, "100"])
    def test_prices_out_of_range_or_not_whole_yen(self, price):
        with pytest.raises(ValidationError) as error:
            CreateProduct(product_id="p", name="n", price=price, category_id="c")
        assert error.value.errors()[0]["loc"] == ("price",)

    def test_update_validates_only_what_it_changes(self):
        with pytest.raises(ValidationError):
            UpdateProduct(product_id="p", price=-1)
        assert UpdateProduct(product_id="p", name=" New ").name == "New"


class TestCategory:
    def test_create(self):
        command = CreateCategory(category_id="c1", name="Books")
        assert Category.decide(given(Category), command) == [BOOKS]

    def test_create_twice_conflicts(self):
        with pytest.raises(Conflict):
            Category.decide(given(Category, BOOKS), CreateCategory(category_id="c1", name="B"))

    def test_rename(self):
        state = given(Category, BOOKS)
        assert Category.decide(state, RenameCategory(category_id="c1", name="Novels")) == [
            CategoryRenamed(category_id="c1", name="Novels")
        ]

    def test_rename_to_the_same_name_changes_nothing(self):
        state = given(Category, BOOKS)
        assert Category.decide(state, RenameCategory(category_id="c1", name="Books")) == []

    @pytest.mark.parametrize(
        "history", [(), (BOOKS, CategoryDeleted(category_id="c1"))], ids=["never", "deleted"]
    )
    def test_missing_categories_cannot_be_renamed_deleted_or_used(self, history):
        state = given(Category, *history)
        for command in (
            RenameCategory(category_id="c1", name="X"),
            DeleteCategory(category_id="c1"),
            AttachProduct(category_id="c1", product_id="p1"),
        ):
            with pytest.raises(NotFound) as error:
                Category.decide(state, command)
            assert error.value.code is ErrorCode.NOT_FOUND

    def test_delete_an_empty_category(self):
        state = given(Category, BOOKS)
        assert Category.decide(state, DeleteCategory(category_id="c1")) == [
            CategoryDeleted(category_id="c1")
        ]

    def test_a_category_that_holds_products_cannot_be_deleted(self):
        state = given(Category, BOOKS, ProductAddedToCategory(category_id="c1", product_id="p1"))
        with pytest.raises(Conflict):
            Category.decide(state, DeleteCategory(category_id="c1"))

    def test_once_its_products_leave_it_can_be_deleted(self):
        state = given(
            Category,
            BOOKS,
            ProductAddedToCategory(category_id="c1", product_id="p1"),
            ProductRemovedFromCategory(category_id="c1", product_id="p1"),
        )
        assert Category.decide(state, DeleteCategory(category_id="c1")) == [
            CategoryDeleted(category_id="c1")
        ]

    def test_detaching_a_product_it_does_not_hold_changes_nothing(self):
        state = given(Category, BOOKS)
        assert Category.decide(state, DetachProduct(category_id="c1", product_id="p9")) == []


class TestCategoryName:
    def test_names_clash_regardless_of_case_and_spacing(self):
        assert CategoryName.stream_id("Home  Garden") == CategoryName.stream_id(" home garden")

    def test_claim_a_free_name(self):
        assert CategoryName.decide(
            given(CategoryName), ClaimName(name="Books", category_id="c1")
        ) == [CategoryNameClaimed(name="Books", category_id="c1")]

    def test_a_taken_name_conflicts_on_the_name_field(self):
        state = given(CategoryName, CategoryNameClaimed(name="Books", category_id="c1"))
        with pytest.raises(Conflict) as error:
            CategoryName.decide(state, ClaimName(name="books", category_id="c2"))
        assert error.value.field == "name"

    def test_claiming_again_for_the_same_category_changes_nothing(self):
        state = given(CategoryName, CategoryNameClaimed(name="Books", category_id="c1"))
        assert CategoryName.decide(state, ClaimName(name="BOOKS", category_id="c1")) == []

    def test_a_released_name_is_free_again(self):
        state = given(
            CategoryName,
            CategoryNameClaimed(name="Books", category_id="c1"),
            CategoryNameReleased(name="Books", category_id="c1"),
        )
        assert CategoryName.decide(state, ClaimName(name="Books", category_id="c2")) == [
            CategoryNameClaimed(name="Books", category_id="c2")
        ]

    def test_only_the_holder_releases(self):
        state = given(CategoryName, CategoryNameClaimed(name="Books", category_id="c1"))
        assert CategoryName.decide(state, ReleaseName(name="Books", category_id="c2")) == []


class TestProduct:
    def test_create(self):
        command = CreateProduct(product_id="p1", name="Novel", price=1200, category_id="c1")
        assert Product.decide(given(Product), command) == [NOVEL]

    def test_update_emits_one_event_per_change(self):
        command = UpdateProduct(product_id="p1", name="Epic", price=1500, category_id="c2")
        assert Product.decide(given(Product, NOVEL), command) == [
            ProductRenamed(product_id="p1", name="Epic"),
            ProductPriceChanged(product_id="p1", price=1500),
            ProductMoved(product_id="p1", from_category_id="c1", to_category_id="c2"),
        ]

    def test_update_to_current_values_changes_nothing(self):
        command = UpdateProduct(product_id="p1", name="Novel", price=1200, category_id="c1")
        assert Product.decide(given(Product, NOVEL), command) == []

    def test_update_needs_something_to_change(self):
        with pytest.raises(InvalidInput) as error:
            Product.decide(given(Product, NOVEL), UpdateProduct(product_id="p1"))
        assert error.value.field == "input"

    def test_delete_remembers_its_category(self):
        assert Product.decide(given(Product, NOVEL), DeleteProduct(product_id="p1")) == [
            ProductDeleted(product_id="p1", category_id="c1")
        ]

    @pytest.mark.parametrize(
        "history",
        [(), (NOVEL, ProductDeleted(product_id="p1", category_id="c1"))],
        ids=["never", "deleted"],
    )
    def test_missing_products_cannot_change(self, history):
        for command in (UpdateProduct(product_id="p1", price=1), DeleteProduct(product_id="p1")):
            with pytest.raises(NotFound):
                Product.decide(given(Product, *history), command)
